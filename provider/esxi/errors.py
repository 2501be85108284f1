"""Every failure the adapter reports, each naming the host it concerns."""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "AuthenticationFailed",
    "CertificateMismatch",
    "EsxiError",
    "HostUnreachable",
    "InvalidPowerState",
    "NameTaken",
    "NotFound",
    "ResourceInUse",
    "StoppedWaiting",
    "WritesForbidden",
]


class EsxiError(Exception):
    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.message = message


class HostUnreachable(EsxiError):
    """No answer from the host's address (refused, timed out, connection dropped)."""


class AuthenticationFailed(EsxiError):
    """The host answered but refused the user name or password."""


class CertificateMismatch(EsxiError):
    """The host's TLS certificate does not match the configured thumbprint."""


class NameTaken(EsxiError):
    """An object of that name already exists where we wanted to create one."""


class AlreadyExists(EsxiError):
    """A file or folder is already there (an atomic create lost the race)."""


class NotFound(EsxiError):
    """The object is gone (deleted behind our back)."""


class ResourceInUse(EsxiError):
    """The object still holds something (VMs in a pool) and cannot be removed."""


class WritesForbidden(EsxiError):
    """The host's license makes its API read-only (the free vSphere Hypervisor)."""


class InvalidPowerState(EsxiError):
    """The VM is not in a power state that allows the operation (already on, or off)."""


class StoppedWaiting(EsxiError):
    """Terraform asked us to stop; the task goes on on the host, unobserved."""
