"""Errors of the domain's own making that several modules share: the user-facing form of an
ESXi adapter error. Kept apart from ``platform`` so the record stores can use it without
importing the platform that builds them."""

from __future__ import annotations

from ..bridge.cty import Path
from ..bridge.diagnostics import DiagnosticError
from ..esxi.errors import (
    AlreadyExists,
    AuthenticationFailed,
    CertificateMismatch,
    EsxiError,
    HostUnreachable,
    NameTaken,
    ResourceInUse,
    WritesForbidden,
)
from .host_conditions import writes_forbidden

__all__ = ["host_error"]


def host_error(exc: EsxiError, path: Path | None = None) -> DiagnosticError:
    """The user-facing form of an adapter error."""
    if isinstance(exc, WritesForbidden):
        return writes_forbidden(exc.host, None, path)
    if isinstance(exc, HostUnreachable):
        summary, todo = (
            "ESXi host unreachable",
            ("Check that the host is running and that its address and port are right."),
        )
    elif isinstance(exc, AuthenticationFailed):
        summary, todo = "ESXi login failed", "Check the user and password for this host."
    elif isinstance(exc, CertificateMismatch):
        summary, todo = (
            "ESXi host certificate not trusted",
            (
                "If you trust this certificate, set the host's thumbprint to the value shown; "
                "for a lab host you may set insecure = true instead."
            ),
        )
    elif isinstance(exc, NameTaken):
        summary, todo = (
            "Name already taken on ESXi host",
            (
                "Pick another name, or bring the existing object under Terraform with "
                "`terraform import`."
            ),
        )
    elif isinstance(exc, AlreadyExists):
        summary, todo = (
            "File already exists on ESXi host",
            "Something of that name is in the way on the host's datastore (left by an "
            "interrupted run, or made by hand): remove it, then run again.",
        )
    elif isinstance(exc, ResourceInUse):
        summary, todo = "ESXi object in use", "Remove what it holds first, then try again."
    else:
        summary, todo = "ESXi operation failed", "See the host's message above."
    return DiagnosticError(
        f"{summary}: {exc.host}", f"Host {exc.host}: {exc.message}. {todo}", path
    )
