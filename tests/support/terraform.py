"""Drives the real terraform CLI in a working folder, with the provider from a test mirror."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provider.install import cli_config

from .simulator import SimHost

RECORDS_KEY = base64.b64encode(bytes(range(32))).decode()  # a test key: never a real one


def terraform_environment(folder: Path) -> dict[str, str]:
    """Install this checkout's provider into a private mirror; return the env that uses it,
    with a private runtime folder for the warm-start server (stop it with
    ``plugin_client.stop_warm_servers(warm_runtime_dir(folder))``)."""
    mirror = folder / "mirror"
    subprocess.run(
        [sys.executable, "-m", "provider", "install", "--mirror", str(mirror)],
        check=True,
        capture_output=True,
    )
    config = folder / "terraform.rc"
    config.write_text(cli_config(mirror))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHOTON_", "TF_"))}
    env.update(
        TF_CLI_CONFIG_FILE=str(config),
        CHECKPOINT_DISABLE="1",  # no calls home: tests talk to loopback only
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        PHOTON_WARM_START_DIR=str(warm_runtime_dir(folder)),
        PHOTON_RECORDS_KEY=RECORDS_KEY,  # cluster secrets sealed, as the quickstart does
    )
    return env


def warm_runtime_dir(folder: Path) -> Path:
    return folder / "warm"


def installed_launcher(folder: Path) -> Path:
    """The launcher that terraform_environment(folder) installed."""
    (launcher,) = (folder / "mirror").glob("*/*/*/*/*/terraform-provider-photon_v*")
    return launcher


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def flat(self) -> str:
        """Output with Terraform's wrapping and box drawing folded, for phrase matching."""
        lines = (line.strip().lstrip("│") for line in self.output.splitlines())
        return " ".join(" ".join(lines).split())


class Terraform:
    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = dict(env)

    def write(self, hcl: str, name: str = "main.tf") -> None:
        (self.workdir / name).write_text(hcl)

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
        proc = subprocess.run(
            ["terraform", *args],
            cwd=self.workdir,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, **kwargs: object) -> Result:
        result = self.run(*args, **kwargs)  # type: ignore[arg-type]
        assert result.code == 0, f"terraform {' '.join(args)} failed:\n{result.output}"
        return result

    def init(self) -> Result:
        return self.ok("init", "-no-color")

    def apply(self, *args: str) -> Result:
        return self.run("apply", "-auto-approve", "-no-color", *args)

    def start_apply(self, *, own_group: bool = False) -> subprocess.Popen[str]:
        """``terraform apply`` running in the background, its output (stderr too) on its
        stdout; ``own_group``: in a process group of its own, as a terminal runs it (so a
        Ctrl-C can be sent to the whole group)."""
        return subprocess.Popen(
            ["terraform", "apply", "-auto-approve", "-no-color"], cwd=self.workdir,
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=own_group,
        )  # fmt: skip

    def plan(self, *args: str) -> Result:
        """``plan -detailed-exitcode``: 0 no changes, 1 error, 2 changes."""
        return self.run("plan", "-detailed-exitcode", "-no-color", *args)

    def saved_plan(self, *args: str) -> tuple[Result, dict[str, Any] | None]:
        """``plan -out`` and the plan as ``show -json`` gives it (stdout only), for asserting
        on values rather than on rendered text; None when the plan failed."""
        planned = self.plan("-out=saved.tfplan", *args)
        if planned.code not in (0, 2):
            return planned, None
        return planned, json.loads(self.ok("show", "-json", "saved.tfplan").stdout)

    def resource_values(self, address: str) -> dict[str, Any]:
        """A resource's attributes as the state holds them (``show -json``, stdout only)."""
        shown = json.loads(self.ok("show", "-json").stdout)
        resources = shown["values"]["root_module"]["resources"]
        return next(r["values"] for r in resources if r["address"] == address)

    def outputs(self) -> dict:
        """The root module's output values (``output -json``, stdout only)."""
        shown = json.loads(self.ok("output", "-json").stdout)
        return {k: v["value"] for k, v in shown.items()}

    def elsewhere(self, workdir: Path) -> Terraform:
        """The same configuration in another folder, initialised, with no state: a
        configuration whose state was lost, for imports."""
        other = Terraform(workdir, self.env)
        workdir.mkdir()
        for tf_file in self.workdir.glob("*.tf"):
            (workdir / tf_file.name).write_text(tf_file.read_text())
        other.init()
        return other

    def import_cluster(self) -> Result:
        """Import the tests' tenant ``team-a`` and cluster ``team-a/prod``."""
        self.ok("import", "-no-color", "photon_tenant.t", "team-a")
        return self.run("import", "-no-color", "photon_k8s_cluster.c", "team-a/prod")

    def destroy(self) -> Result:
        return self.run("destroy", "-auto-approve", "-no-color")


def planned_actions(shown: dict[str, Any]) -> dict[str, list[str]]:
    """Address -> actions (``["update"]``, ``["delete", "create"]``, ...) of each resource that
    a plan from ``saved_plan`` changes."""
    changes = shown.get("resource_changes") or []
    return {
        c["address"]: c["change"]["actions"] for c in changes if c["change"]["actions"] != ["no-op"]
    }


def planned_change(shown: dict[str, Any], address: str) -> dict[str, Any]:
    """One resource's planned change: ``actions``, ``before``, ``after``, ``after_unknown``,
    ``replace_paths``."""
    return next(c["change"] for c in shown["resource_changes"] if c["address"] == address)


def unknown_until_apply(after_unknown: object) -> bool:
    """Whether a change's ``after_unknown`` marks any value as known only after apply."""
    if isinstance(after_unknown, dict):
        return any(map(unknown_until_apply, after_unknown.values()))
    if isinstance(after_unknown, list):
        return any(map(unknown_until_apply, after_unknown))
    return after_unknown is True


def provider_block(
    hosts: Iterable[SimHost], extra: str = "", **overrides: dict[str, object]
) -> str:
    """A provider block for the given hosts; ``overrides[name]`` replaces fields of one host,
    ``extra`` is more HCL for the provider block (another host, a setting)."""
    blocks = []
    for host in hosts:
        fields = {**host.connection(), **overrides.get(host.name.replace("-", "_"), {})}
        body = "\n".join(f"    {k} = {_hcl(v)}" for k, v in fields.items() if v is not None)
        blocks.append(f"  host {{\n{body}\n  }}")
    return (
        'terraform {\n  required_providers {\n    photon = { source = "photon-platform/photon" }\n'
        '  }\n}\n\nprovider "photon" {\n' + "\n".join(blocks) + extra + "\n}\n"
    )


def _hcl(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"'
