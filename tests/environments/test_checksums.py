"""Addon checksums and the install/update plan, against a real Odoo 17 database."""

from __future__ import annotations

from pathlib import Path

from conftest import write_addon
from odooplane.environments import checksums
from odooplane.environments.checksums import ModuleRow, plan_update
from odooplane.odoo.manifest import read_addon
from odooplane.postgres.server import DatabaseServer


def test_checksum_ignores_caches_and_sees_content(tmp_path: Path) -> None:
    folder = write_addon(tmp_path, "a", extra={"models/x.py": "X = 1\n"})
    first = checksums.addon_checksum(folder)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (folder / "models" / "x.pyc").write_bytes(b"\0")
    (folder / ".hidden").write_text("editor state")
    assert checksums.addon_checksum(folder) == first
    (folder / "models" / "x.py").write_text("X = 2\n")
    assert checksums.addon_checksum(folder) != first
    (folder / "models" / "x.py").write_text("X = 1\n")
    assert checksums.addon_checksum(folder) == first
    # A renamed file is a change even with the same bytes.
    (folder / "models" / "x.py").rename(folder / "models" / "y.py")
    assert checksums.addon_checksum(folder) != first


def test_adapt_version() -> None:
    assert checksums.adapt_version("1.0", "17.0") == "17.0.1.0"
    assert checksums.adapt_version("17.0.1.0.0", "17.0") == "17.0.1.0.0"
    assert checksums.adapt_version("17.0", "17.0") == "17.0.17.0"


def test_plan(tmp_path: Path) -> None:
    a = read_addon(write_addon(tmp_path, "a", version="17.0.1.0.0"))
    b = read_addon(write_addon(tmp_path, "b", version="17.0.1.0.1"))
    c = read_addon(write_addon(tmp_path, "c"))
    d = read_addon(write_addon(tmp_path, "d"))
    assert a and b and c and d
    rows = {
        "a": ModuleRow("a", "installed", "17.0.1.0.0"),
        "b": ModuleRow("b", "installed", "17.0.1.0.0"),  # version bumped in the code
        "c": ModuleRow("c", "installed", "17.0.1.0.0"),
        "base": ModuleRow("base", "installed", "17.0.1.3"),
    }
    stored = {
        "a": checksums.addon_checksum(a.path),
        "b": checksums.addon_checksum(b.path),
        "c": "stale",
    }
    plan = plan_update(
        [a, b, c, d],
        rows,
        stored,
        wanted=["a", "b", "c", "d"],
        series="17.0",
        odoo_revision="r1",
        previous_revision="r1",
    )
    assert plan.install == ["d"]
    assert plan.update == ["b", "c"]
    assert plan.unchanged == ["a"]
    assert "version" in plan.reasons["b"] and "changed" in plan.reasons["c"]
    assert not plan.update_all
    changed_odoo = plan_update(
        [a],
        rows,
        stored,
        wanted=["a"],
        series="17.0",
        odoo_revision="r2",
        previous_revision="r1",
    )
    assert changed_odoo.update_all and not changed_odoo.empty


def test_store_and_read_in_a_real_odoo_database(
    pg_server: DatabaseServer, prodlike_db: str
) -> None:
    with pg_server.connect(prodlike_db) as conn:
        rows = checksums.installed_modules(conn)
        assert rows["base"].state == "installed"
        assert rows["base"].latest_version and rows["base"].latest_version.startswith("17.0")
        assert checksums.stored_checksums(conn) == {}
        assert checksums.stored_revision(conn) is None
        # Only modules present and installed are recorded.
        checksums.store_checksums(conn, {"mail": "abc", "not_there": "x"}, "rev1")
        assert checksums.stored_checksums(conn) == {"mail": "abc"}
        assert checksums.stored_revision(conn) == "rev1"
        checksums.store_checksums(conn, {"mail": "def"}, "rev2")
        assert checksums.stored_checksums(conn) == {"mail": "def"}
        assert checksums.stored_revision(conn) == "rev2"
        count = conn.execute(
            "SELECT count(*) FROM ir_config_parameter WHERE key LIKE 'odooplane.%%'"
        ).fetchone()
        assert count is not None and count[0] == 2
