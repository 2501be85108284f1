"""``terraform-provider-photon install | uninstall``: put the provider of this Python
environment into a Terraform plugin mirror, so that ``terraform init`` finds
photon-platform/photon without a registry.

The mirror gets a small launcher that runs this environment's own interpreter (no shim: one
costs ~0.1 s on each of the 3-4 starts Terraform makes per command) in isolated mode, so no
checkout, working folder or PYTHONPATH can shadow the installed package. Other versions'
launchers are replaced, and what that means for lock files is said: Terraform records each
package's checksum (``h1:``) in ``.terraform.lock.hcl``.
"""

from __future__ import annotations

import base64
import hashlib
import platform
import shlex
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from .bridge import warm_launcher

__all__ = ["Entry", "cli_config", "install", "package_hash", "uninstall"]

PROVIDER = "registry.terraform.io/photon-platform/photon"
IMPLICIT_MIRROR = Path("~/.terraform.d/plugins")
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
_LAUNCHER = """#!/bin/sh
# terraform-provider-photon {version}, written by `terraform-provider-photon install`.
# Runs the provider in the Python environment it was installed into, through a warm-start
# server when it can (PHOTON_WARM_START=0 turns that off); remove it with
# `terraform-provider-photon uninstall`.
exec {python} -I -S {launcher} photon provider.__main__:main "$@"
"""
_CLI_CONFIG = """provider_installation {{
  filesystem_mirror {{
    path    = "{mirror}"
    include = ["{provider}"]
  }}
  direct {{
    exclude = ["{provider}"]
  }}
}}
"""


def cli_config(mirror: Path) -> str:
    """The Terraform CLI configuration that takes this provider from ``mirror`` and every
    other provider from its registry."""
    return _CLI_CONFIG.format(mirror=mirror, provider=PROVIDER)


def target_platform() -> str:
    """Terraform's name for this machine's platform, e.g. ``linux_amd64``."""
    machine = platform.machine().lower()
    return f"{platform.system().lower()}_{_ARCH.get(machine, machine)}"


def package_hash(package: Path) -> str:
    """Terraform's ``h1:`` checksum of an unpacked package folder (Go's dirhash Hash1: the
    SHA-256 of the sorted ``<sha256>  <relative path>`` lines of its files)."""
    files = sorted(
        (p.relative_to(package).as_posix(), p) for p in package.rglob("*") if p.is_file()
    )
    summary = "".join(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {name}\n" for name, p in files
    )
    return "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()


@dataclass(frozen=True, order=True)
class Entry:
    """One installed version of the provider in a mirror, for one platform."""

    version: str
    launcher: Path

    @property
    def package(self) -> Path:
        return self.launcher.parent


def entries(mirror: Path, os_arch: str) -> list[Entry]:
    found = mirror.glob(f"{PROVIDER}/*/{os_arch}/terraform-provider-photon_v*")
    return sorted(Entry(p.parent.parent.name, p) for p in found if p.is_file() or p.is_symlink())


def _remove(entry: Entry, mirror: Path) -> None:
    """The launcher, then every folder it leaves empty up to the mirror."""
    entry.launcher.unlink()
    folder = entry.package
    while folder != mirror and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def install(
    mirror: Path, *, version: str, python: str = sys.executable, os_arch: str | None = None
) -> list[str]:
    """Write this version's launcher, remove other versions'; return what to tell the user."""
    os_arch = os_arch or target_platform()
    package = mirror / PROVIDER / version / os_arch
    launcher = package / f"terraform-provider-photon_v{version}"
    previous = {e.version: e for e in entries(mirror, os_arch)}
    old_hash = package_hash(package) if version in previous else None
    package.mkdir(parents=True, exist_ok=True)
    launcher.unlink(missing_ok=True)  # never write through a link left by an older install
    script = shlex.quote(str(Path(warm_launcher.__file__).resolve()))
    launcher.write_text(
        _LAUNCHER.format(version=version, python=shlex.quote(python), launcher=script)
    )
    launcher.chmod(0o755)
    new_hash = package_hash(package)
    messages = [f"Installed photon-platform/photon {version} for {os_arch}: {launcher}",
                f"It runs {python}. Package checksum for lock files: {new_hash}"]  # fmt: skip
    replaced = sorted(v for v in previous if v != version)
    for old in replaced:
        _remove(previous[old], mirror)
    if replaced:
        messages.append(
            f"Removed {', '.join(replaced)}. Configurations whose .terraform.lock.hcl selects "
            f"{' or '.join(replaced)} now fail `terraform init`: run `terraform init -upgrade` "
            f"there (their version constraints must allow {version})."
        )
    if old_hash not in (None, new_hash):
        messages.append(
            f"The {version} package changed ({old_hash} -> {new_hash}): its launcher now runs "
            "this environment. In configurations that locked the old checksum, run `terraform "
            f"providers lock -fs-mirror={mirror} {PROVIDER}` (it adds the new checksum and "
            "keeps the old one, for lock files shared between machines); `init -upgrade` "
            "does not."
        )
    return messages


def uninstall(mirror: Path, *, os_arch: str | None = None) -> list[str]:
    found = entries(mirror, os_arch or target_platform())
    for entry in found:
        _remove(entry, mirror)
    if not found:
        return [f"Nothing to remove: no photon-platform/photon in {mirror}."]
    return [f"Removed photon-platform/photon {e.version}: {e.launcher}" for e in found]


def installed_version() -> str:
    from importlib.metadata import version

    return version("terraform-provider-photon")


def run(command: str, mirror: str | None) -> int:
    """The CLI's work; returns the exit code."""
    folder = Path(mirror).expanduser() if mirror else IMPLICIT_MIRROR.expanduser()
    try:
        if command == "install":
            messages = install(folder.absolute(), version=installed_version())
        else:
            messages = uninstall(folder.absolute())
    except OSError as exc:
        print(f"terraform-provider-photon {command}: {exc}", file=sys.stderr)
        return 1
    print("\n".join(messages))
    if command == "install" and mirror:
        print(
            "To use this mirror, put into the Terraform CLI configuration (~/.terraformrc,\n"
            "or the file that TF_CLI_CONFIG_FILE names):\n"
            + textwrap.indent(cli_config(folder.absolute()), "  ").rstrip("\n")
        )
    return 0
