"""Translation of pyVmomi faults into our own errors, at the adapter's edge."""

from __future__ import annotations

import contextlib
import http.client
import ssl
from collections.abc import Iterator

from pyVmomi import vim, vmodl

from .errors import (
    AlreadyExists,
    EsxiError,
    HostUnreachable,
    InvalidPowerState,
    NameTaken,
    NotFound,
    ResourceInUse,
    WritesForbidden,
)

__all__ = ["raise_task_error", "translated"]


@contextlib.contextmanager
def translated(host: str) -> Iterator[None]:
    """Run a block of ESXi calls; faults leave it as ``EsxiError`` naming ``host``."""
    try:
        yield
    except vim.fault.DuplicateName as exc:
        raise NameTaken(host, f"the name {exc.name!r} is already in use") from exc
    except vim.fault.FileAlreadyExists as exc:
        raise AlreadyExists(host, f"{exc.file or 'the file'} already exists") from exc
    except vim.fault.FileNotFound as exc:
        raise NotFound(host, f"{exc.file or 'the file'} does not exist") from exc
    except vmodl.fault.ManagedObjectNotFound as exc:
        raise NotFound(host, "the object no longer exists") from exc
    except vim.fault.ResourceInUse as exc:
        raise ResourceInUse(host, exc.msg or "the object is in use") from exc
    except vim.fault.RestrictedVersion as exc:
        raise WritesForbidden(host, exc.msg or "the license forbids this operation") from exc
    except vim.fault.InvalidPowerState as exc:
        raise InvalidPowerState(host, exc.msg or type(exc).__name__) from exc
    except vim.fault.NotAuthenticated as exc:
        raise HostUnreachable(host, "the session ended (the host restarted?)") from exc
    except (vmodl.MethodFault, vim.fault.VimFault) as exc:
        raise EsxiError(host, exc.msg or type(exc).__name__) from exc
    except (TimeoutError, OSError, http.client.HTTPException, ssl.SSLError) as exc:
        raise HostUnreachable(host, f"lost the connection: {exc}") from exc


def raise_task_error(host: str, error: Exception | None) -> None:
    """Raise what a task ended with (see ``tasks.wait_for_tasks``) like a call's fault."""
    if isinstance(error, EsxiError):
        raise error
    if error is not None:
        with translated(host):
            raise error
