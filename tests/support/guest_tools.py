"""Stand-ins for the guest tools a node's readiness report calls, for nodes run by the node
emulator: ``vmware-rpctool "info-set guestinfo.K V"`` sets the variable on the node's simulated
host through the API (where a real guest's VMware Tools would set it), and ``cloud-init status``
says cloud-init is done (the emulator has laid the node's files and started its units).

Run as ``guest_tools.py TOOL ARGS...``; the node's host and VM come from ``PHOTON_SIM_GUEST``
(JSON: the host's connection and ``vm_id``), set by the emulator.
"""

from __future__ import annotations

import json
import os
import sys

__all__ = ["main"]

GUEST_ENV = "PHOTON_SIM_GUEST"


def _rpctool(command: str) -> int:
    verb, _, rest = command.partition(" ")
    key, _, value = rest.partition(" ")
    if verb != "info-set" or not key.startswith("guestinfo."):
        print(f"vmware-rpctool stand-in: unsupported command {command!r}", file=sys.stderr)
        return 1
    from tests.support.probe import probe
    from tests.support.simulator import SimHost

    guest = json.loads(os.environ[GUEST_ENV])
    vm_id = guest.pop("vm_id")
    with probe(SimHost(**guest, pid=0)) as p:
        p.set_extra_config(vm_id, **{key: value})
    return 0


def main(argv: list[str]) -> int:
    tool, args = argv[0], argv[1:]
    if tool == "vmware-rpctool" and len(args) == 1:
        return _rpctool(args[0])
    if tool == "cloud-init" and args[:1] == ["status"]:
        print("status: done")
        return 0
    print(f"guest tools stand-in: {tool} {args} is not played", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
