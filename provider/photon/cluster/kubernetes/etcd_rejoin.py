"""Rejoin a restored etcd member to its running cluster: run by the node itself, before etcd.

Why: a VM restored in place of a lost etcd member starts with an empty data directory. Started
with ``--initial-cluster-state=existing`` under the dead member's name and peer URL, etcd hands
it the dead member's ID, and the leader, which remembers that ID's log progress, makes it panic
(``tocommit(N) is out of range``) at every start. etcd's procedure for a replaced machine is
``member remove`` (the dead ID), ``member add`` (the new member), then start; this does those
steps against the *other* members, through etcd's v3 JSON gateway on their client port, with
the node's own client certificate. The node image needs ``python3`` only (cloud-init brings
it), not ``etcdctl`` or ``curl``: this file is written to the node by its cloud-config and must
stay standard library only and run on Python 3.8.

Modes:
  ``add``     external etcd: remove the dead member, add this node; etcd then starts with
              ``existing``. Run as the unit's ``ExecStartPre``; on timeout it exits non-zero
              and systemd's ``Restart=always`` runs it again.
  ``remove``  stacked etcd: remove the dead member only; ``kubeadm join --control-plane``
              adds the node itself, but its ``check-etcd`` phase fails while the dead member
              is listed.

Nothing is done when ``<data-dir>/member`` exists: the node rebooted and is still a member.
A member with this node's peer URL and a name is the dead one (names are published by a
started member); one without a name is this node, added by an earlier try, and is kept.
``member add`` is refused (``unhealthy cluster``, ``not enough started members``) until the
members have been connected for 5 s, and nothing answers while a new leader is elected: every
step is retried until the deadline.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request

__all__ = ["EtcdError", "Gateway", "decide", "main", "rejoin"]

ADD, REMOVE = "add", "remove"


class EtcdError(Exception):
    """No member answered a call, or the one that answered refused it."""


def decide(members: list[dict], peer_url: str, mode: str) -> tuple[list[str], bool]:
    """The member IDs to remove and whether to add this node, from ``member list``'s members
    (gateway shape: ``ID`` a uint64 as a string, ``name`` absent until the member started)."""
    mine = [m for m in members if peer_url in m.get("peerURLs", [])]
    if mode == REMOVE:  # kubeadm adds the node itself; a half-done earlier add goes too
        return [m["ID"] for m in mine], False
    dead = [m["ID"] for m in mine if m.get("name")]
    added_before = any(not m.get("name") for m in mine)
    return dead, not added_before


class Gateway:
    """etcd's v3 JSON gateway on the other members: each call tries them in turn."""

    def __init__(self, endpoints: list[str], cacert: str, cert: str, key: str) -> None:
        self.endpoints = endpoints
        self.context = ssl.create_default_context(cafile=cacert)
        self.context.load_cert_chain(cert, key)

    def call(self, path: str, body: dict) -> dict:
        errors = []
        for endpoint in self.endpoints:
            try:
                return self._post(endpoint + path, body)
            except EtcdError as exc:
                errors.append(f"{endpoint}: {exc}")
        raise EtcdError("; ".join(errors))

    def _post(self, url: str, body: dict) -> dict:
        request = urllib.request.Request(
            url, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=5) as response:
                return json.loads(response.read().decode())
        except urllib.error.HTTPError as exc:
            raise EtcdError(_gateway_error(exc)) from exc
        except (OSError, ValueError) as exc:  # refused, timed out, TLS, not JSON
            raise EtcdError(str(exc)) from exc

    def members(self) -> list[dict]:
        return self.call("/v3/cluster/member/list", {}).get("members", [])

    def remove(self, member_id: str) -> None:
        self.call("/v3/cluster/member/remove", {"ID": member_id})

    def add(self, peer_url: str) -> str:
        return self.call("/v3/cluster/member/add", {"peerURLs": [peer_url]})["member"]["ID"]


def _gateway_error(exc: urllib.error.HTTPError) -> str:
    """The gateway answers a refusal with HTTP 500 and ``{"error": "etcdserver: ..."}``."""
    try:
        return str(json.loads(exc.read().decode()).get("error") or exc)
    except ValueError:
        return str(exc)


def rejoin(gateway: Gateway, peer_url: str, mode: str, deadline: float, pause: float = 1.0) -> bool:
    """Do the steps, retried every ``pause`` seconds until they are done (True) or the
    deadline (``time.monotonic()``) passes (False)."""
    while True:
        try:
            remove, add = decide(gateway.members(), peer_url, mode)
            for member_id in remove:
                gateway.remove(member_id)
                _say(f"removed member {member_id} (the lost member at {peer_url})")
            if add:
                _say(f"added this node as member {gateway.add(peer_url)}")
            return True
        except EtcdError as exc:
            if time.monotonic() >= deadline:
                _say(f"gave up: {exc}")
                return False
            _say(f"retrying: {exc}")
            time.sleep(pause)


def _say(message: str) -> None:
    print(f"etcd-rejoin: {message}", file=sys.stderr, flush=True)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=[ADD, REMOVE])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--peer-url", required=True, help="this node's peer URL")
    parser.add_argument("--endpoints", required=True, help="the other members' client URLs, ','")
    parser.add_argument("--cacert", required=True)
    parser.add_argument("--cert", required=True, help="a client certificate of the etcd CA")
    parser.add_argument("--key", required=True)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if os.path.isdir(os.path.join(args.data_dir, "member")):
        _say(f"{args.data_dir} holds a member's data: a reboot, nothing to do")
        return 0
    gateway = Gateway(args.endpoints.split(","), args.cacert, args.cert, args.key)
    done = rejoin(gateway, args.peer_url, args.mode, time.monotonic() + args.timeout)
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
