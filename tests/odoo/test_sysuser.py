"""The unprivileged user Odoo runs as: switched to with setpriv, let into the folders it
needs by an ACL for it alone, owner of what it writes (issue 10: Odoo ran as root)."""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

import pytest

from odooplane.odoo import sysuser
from odooplane.postgres.sysuser import ServiceUser, can_enter, run_as

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")


@pytest.fixture
def user() -> ServiceUser:
    found = sysuser.odoo_user()
    assert found is not None and found.uid != 0
    return found


def test_the_odoo_user_is_nobody_special(user: ServiceUser) -> None:
    assert user.name == sysuser.ODOO_USER
    done = subprocess.run(
        [*sysuser.setpriv_prefix(user), "sh", "-c", "id -u; id -G; grep CapEff /proc/self/status"],
        capture_output=True,
        text=True,
        check=True,
    )
    uid, groups, caps = done.stdout.split("\n")[:3]
    assert uid == str(user.uid) and groups == str(user.gid)
    assert caps.split()[-1] == "0000000000000000"
    # Not the embedded PostgreSQL's user, which owns the cluster's files.
    assert user.name != "odooplane"


def test_search_right_for_that_user_alone(user: ServiceUser, tmp_path: Path) -> None:
    private = tmp_path / "private"
    inner = private / "inner"
    inner.mkdir(parents=True)
    os.chmod(private, 0o700)
    (inner / "file.txt").write_text("readable once reachable")
    entry = pwd.getpwnam("nobody")
    other = ServiceUser(entry.pw_name, entry.pw_uid, entry.pw_gid)
    assert not can_enter(user, inner) and not can_enter(other, inner)
    sysuser.grant_path(user, inner / "file.txt")
    assert can_enter(user, inner)
    assert not can_enter(other, inner)
    assert os.stat(private).st_mode & 0o077 == 0o010  # the ACL mask, nothing for the group
    read = run_as(user, ["cat", str(inner / "file.txt")], cwd=Path("/"), env={})
    assert read.stdout == "readable once reachable"
    # Asked again: nothing more is granted.
    assert sysuser.grant_search(user, private) is False


def test_prepare_owns_what_odoo_writes(user: ServiceUser, tmp_path: Path) -> None:
    data = tmp_path / "odoo-data"
    (data / "filestore" / "acme_prod" / "ab").mkdir(parents=True)
    (data / "filestore" / "acme_prod" / "ab" / "f").write_text("x")
    env_dir = tmp_path / "envs" / "production"
    env_dir.mkdir(parents=True)
    conf = env_dir / "odoo.conf"
    conf.write_text(f"[options]\ndata_dir = {data}\ndb_name = acme_prod\ndb_password = s\n")
    os.chmod(conf, 0o600)
    home = sysuser.prepare(user, ["/usr/bin/python3", "odoo-bin", "-c", str(conf)], env_dir)
    assert home == data
    for path in (conf, data, data / "sessions", data / "filestore" / "acme_prod" / "ab" / "f"):
        assert path.stat().st_uid == user.uid, path
    assert conf.stat().st_mode & 0o777 == 0o600
    read = run_as(user, ["cat", str(conf)], cwd=Path("/"), env={})
    assert "db_password" in read.stdout
