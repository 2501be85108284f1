"""The installer's mirror bookkeeping, on temporary folders (the e2e test runs it for real)."""

from __future__ import annotations

from pathlib import Path

from provider.install import install, package_hash, uninstall

PROVIDER = "registry.terraform.io/photon-platform/photon"


def launcher(mirror: Path, version: str) -> Path:
    return mirror / PROVIDER / version / "linux_amd64" / f"terraform-provider-photon_v{version}"


def test_an_upgrade_replaces_the_old_version_and_says_what_lock_files_need(tmp_path: Path) -> None:
    install(tmp_path, version="0.1.0", python="/envs/a/bin/python", os_arch="linux_amd64")
    said = install(tmp_path, version="0.2.0", python="/envs/a/bin/python", os_arch="linux_amd64")
    assert not (tmp_path / PROVIDER / "0.1.0").exists()
    assert "exec /envs/a/bin/python -I " in launcher(tmp_path, "0.2.0").read_text()
    assert said[-1] == (
        "Removed 0.1.0. Configurations whose .terraform.lock.hcl selects 0.1.0 now fail "
        "`terraform init`: run `terraform init -upgrade` there (their version constraints must "
        "allow 0.2.0)."
    )


def test_the_same_version_from_another_environment_changes_the_checksum(tmp_path: Path) -> None:
    first = install(tmp_path, version="0.1.0", python="/envs/a/bin/python", os_arch="linux_amd64")
    again = install(tmp_path, version="0.1.0", python="/envs/a/bin/python", os_arch="linux_amd64")
    assert again == first  # nothing changed, nothing to say about lock files
    old = package_hash(launcher(tmp_path, "0.1.0").parent)
    moved = install(tmp_path, version="0.1.0", python="/envs/b/bin/python", os_arch="linux_amd64")
    new = package_hash(launcher(tmp_path, "0.1.0").parent)
    assert old != new and moved[-1].startswith(f"The 0.1.0 package changed ({old} -> {new})")


def test_a_link_left_by_the_old_script_is_replaced_not_written_through(tmp_path: Path) -> None:
    script = tmp_path / "checkout-script"
    script.write_text("#!/bin/sh\n")
    link = launcher(tmp_path / "mirror", "0.1.0")
    link.parent.mkdir(parents=True)
    link.symlink_to(script)
    install(tmp_path / "mirror", version="0.1.0", python="/p", os_arch="linux_amd64")
    assert script.read_text() == "#!/bin/sh\n" and not link.is_symlink()


def test_uninstall_removes_every_version_and_the_folders_it_empties(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()  # the mirror's other content stays
    install(tmp_path, version="0.1.0", python="/p", os_arch="linux_amd64")
    launcher(tmp_path, "0.0.9").parent.mkdir(parents=True)
    launcher(tmp_path, "0.0.9").symlink_to(tmp_path / "other")  # as an older install left it
    assert uninstall(tmp_path, os_arch="linux_amd64") == [
        f"Removed photon-platform/photon 0.0.9: {launcher(tmp_path, '0.0.9')}",
        f"Removed photon-platform/photon 0.1.0: {launcher(tmp_path, '0.1.0')}",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other"]
    assert uninstall(tmp_path, os_arch="linux_amd64") == [
        f"Nothing to remove: no photon-platform/photon in {tmp_path}."
    ]
