"""Entry point Terraform starts: ``terraform-provider-photon [--debug]``; and for people,
``terraform-provider-photon install | uninstall [--mirror DIR]``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

PROVIDER_ADDRESS = "registry.terraform.io/photon-platform/photon"


def _photon_provider():
    from .photon.provider import PhotonProvider

    return PhotonProvider()


def warm_up() -> None:
    """What a warm-start server (bridge/warm_server.py) loads once before it forks a process
    per start: the bridge, and every module of the domain and the ESXi adapter (a plain
    schema start skips the heavy ones; a forked one has them for free). Imports only: no
    thread or connection may exist before the fork."""
    import pkgutil

    from . import esxi, photon
    from .bridge import plugin_server

    plugin_server.warm_up()
    for package in (photon, esxi):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["records"]:  # not started by Terraform: move or copy the records
        from .photon.records.cli import main as records_main

        sys.exit(records_main(argv[1:]))
    parser = argparse.ArgumentParser(
        prog="terraform-provider-photon",
        description="Terraform provider for Photon-style Kubernetes on ESXi hosts. "
        "`records export|import` moves the platform records (see --help there).",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="start once and print TF_REATTACH_PROVIDERS for Terraform to attach to",
    )
    commands = parser.add_subparsers(dest="command", metavar="{install,uninstall}")
    for name, what in (
        ("install", "put this environment's provider into a Terraform plugin mirror"),
        ("uninstall", "remove the provider from a Terraform plugin mirror"),
    ):
        command = commands.add_parser(name, help=what, description=what)
        command.add_argument(
            "--mirror",
            metavar="DIR",
            help="a filesystem_mirror folder (default: ~/.terraform.d/plugins, which "
            "terraform init searches by itself)",
        )
    args = parser.parse_args(argv)
    if args.command is not None:
        from .install import run

        sys.exit(run(args.command, args.mirror))

    from .bridge.plugin_server import serve

    code = serve(_photon_provider, provider_address=PROVIDER_ADDRESS, debug=args.debug)
    sys.stdout.flush()
    sys.stderr.flush()
    # Terraform waits for the process to end after Shutdown; skip the interpreter's slow
    # teardown of gRPC's threads: serve() has already closed the server and the provider.
    os._exit(code)


if __name__ == "__main__":
    main()
