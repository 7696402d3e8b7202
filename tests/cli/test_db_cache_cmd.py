"""`odooplane db cache list|prune`: the templates of the project's own server and the
exported ones, as JSON and for people."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli_run import run
from fixtures_postgres import TEST_SETTINGS
from odooplane.postgres import templates as tpl
from odooplane.postgres.cluster import EmbeddedCluster
from odooplane.postgres.databases import create_database
from odooplane.postgres.server import DatabaseServer


@pytest.fixture
def own_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, DatabaseServer]]:
    """A project with its own embedded server and its own cache: pruning everything
    there touches no other test's templates."""
    monkeypatch.setenv("ODOOPLANE_CACHE_DIR", str(tmp_path / "cache"))
    base = Path(tempfile.mkdtemp(prefix="odooplane-test-pg-cache-"))
    os.chmod(base, 0o711)
    root = base / "project"
    root.mkdir()
    (root / "odooplane.yaml").write_text(
        "project: cachecli\nodoo:\n  series: '17.0'\n  source: /opt/odoo-src/17.0\n"
    )
    cluster = EmbeddedCluster(root / ".odooplane", settings=TEST_SETTINGS)
    try:
        cluster.start()
        yield root, cluster.server()
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


def build(server: DatabaseServer, lineage: str, n: int) -> tpl.TemplateInfo:
    def fill(database: str, data_dir: Path) -> None:
        create_database(server, database)
        (data_dir / "filestore" / database / "ab").mkdir(parents=True)
        (data_dir / "filestore" / database / "ab" / "abcdef").write_bytes(b"x" * n)

    key = tpl.TemplateKey("project", lineage=lineage, parts={"n": n})
    return tpl.ensure_template(server, key, fill).template


def test_list_and_prune(
    own_server: tuple[Path, DatabaseServer], capfd: pytest.CaptureFixture[str]
) -> None:
    root, server = own_server
    old = build(server, "project-cachecli-demo", 1)
    new = build(server, "project-cachecli-demo", 2)

    code, out, err = run(capfd, "-C", str(root), "db", "cache", "list", "--json")
    assert code == 0, err
    listing: dict[str, Any] = json.loads(out)
    names = {t["database"]: t for t in listing["templates"]}
    assert set(names) == {old.database, new.database}
    assert names[new.database]["lineage"] == "project-cachecli-demo"
    assert names[new.database]["complete"] is True
    assert {e["digest"] for e in listing["exports"]} == {old.digest, new.digest}

    code, out, err = run(capfd, "-C", str(root), "db", "cache", "list")
    # Long names are folded over lines inside the tables' cells.
    squashed = "".join(c for c in out if c.isalnum())
    assert code == 0 and "Templateson" in squashed and "Exportedtemplates" in squashed

    code, out, err = run(capfd, "-C", str(root), "db", "cache", "prune", "--keep", "1", "--json")
    assert code == 0, err
    pruned = json.loads(out)
    assert pruned["templates"]["removed"] == [old.database]
    assert pruned["templates"]["kept"] == [new.database]
    assert pruned["exports"]["removed"] == [old.digest]

    code, out, err = run(capfd, "-C", str(root), "db", "cache", "prune", "--all")
    assert code == 0, err
    assert f"removed template {new.database}" in out
    assert tpl.list_templates(server) == [] and tpl.list_exports() == []


def test_help_and_bad_values(capfd: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capfd, "db", "cache", "--help")
    assert code == 0 and "prune" in out and "list" in out
    code, _out, err = run(capfd, "db", "cache", "prune", "--keep", "-1")
    assert code == 2 and "--keep" in err
