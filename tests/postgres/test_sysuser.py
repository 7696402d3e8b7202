"""The system user the embedded server runs as: never root, commands run as it, folders
it can enter asked of the kernel, trees handed over to it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from odooplane.errors import ExternalToolError
from odooplane.postgres.sysuser import (
    SERVICE_USER,
    ServiceUser,
    can_enter,
    chown_tree,
    run_as,
    running_as_root,
    service_user,
    system_user,
)


@pytest.fixture
def reachable() -> Iterator[Path]:
    """A folder every user can reach (pytest's tmp_path is 0700 under root)."""
    base = Path(tempfile.mkdtemp(prefix="odooplane-test-sysuser-"))
    os.chmod(base, 0o711)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def test_the_service_user_is_never_root() -> None:
    user = service_user()
    assert user.uid != 0
    if running_as_root():
        assert user.name in (SERVICE_USER, "postgres") and not user.is_self
        assert system_user(user.name, "unused comment") == user  # found, not created
    else:
        assert user.is_self


def test_run_as_switches_to_the_user(tmp_path: Path) -> None:
    user = service_user()
    done = run_as(user, ["id", "-u"], cwd=Path("/"), env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and int(done.stdout) == user.uid
    fed = run_as(user, ["cat"], cwd=Path("/"), env={"PATH": "/usr/bin:/bin"}, input_text="hi")
    assert fed.stdout == "hi"
    with pytest.raises(ExternalToolError, match=r"sleep did not finish within 1 s"):
        run_as(user, ["sleep", "10"], cwd=Path("/"), env={"PATH": "/usr/bin:/bin"}, timeout=1)
    with pytest.raises(ExternalToolError, match="Could not run /no/such/program"):
        run_as(user, ["/no/such/program"], cwd=Path("/"), env={})


def test_can_enter_asks_the_kernel(reachable: Path, tmp_path: Path) -> None:
    user = service_user()
    assert can_enter(user, reachable)
    private = reachable / "private"
    private.mkdir(mode=0o700)
    if running_as_root():
        assert not can_enter(user, private)
        assert not can_enter(user, tmp_path)  # pytest's 0700 folders
        chown_tree(private, user)
        assert can_enter(user, private)
    me = ServiceUser("me", os.geteuid(), os.getegid())
    assert can_enter(me, private)


def test_chown_tree_gives_everything_below(reachable: Path) -> None:
    user = service_user()
    tree = reachable / "data"
    (tree / "base" / "1").mkdir(parents=True)
    (tree / "base" / "1" / "file").write_text("x")
    (tree / "link").symlink_to("/etc/passwd")
    chown_tree(tree, user)
    for path in (tree, tree / "base", tree / "base" / "1", tree / "base" / "1" / "file"):
        assert path.stat().st_uid == user.uid
    assert (tree / "link").lstat().st_uid == user.uid
    assert Path("/etc/passwd").stat().st_uid == 0  # the link's target is left alone
