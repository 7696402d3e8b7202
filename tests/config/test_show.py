"""Showing a configuration: secrets from env files and URL passwords masked."""

from __future__ import annotations

from pathlib import Path

from fixtures_config import VALID, write
from odooplane.config import (
    environment_summary,
    load_config_details,
    mask_url_password,
    redacted_dump,
)


def test_secrets_from_env_files_are_masked(tmp_path: Path) -> None:
    (tmp_path / "prod.env").write_text("DB_HOST=db.internal\nAPI_KEY=hunter2\n")
    text = (
        VALID.replace(
            "kind: production\n",
            "kind: production\n    env_file: prod.env\n"
            "    odoo_options: {api_key: '${API_KEY}', host: '${DB_HOST}:5432'}\n",
        )
        + "database: {server: 'postgresql://odoo:pw@${PGHOST}/x'}\n"
    )
    loaded = load_config_details(write(tmp_path, text), environ={"PGHOST": "pg.example.com"})
    options = loaded.config.environments["production"].odoo_options
    assert options == {"api_key": "hunter2", "host": "db.internal:5432"}
    shown = redacted_dump(loaded)
    assert shown["environments"]["production"]["odoo_options"] == {
        "api_key": "****",
        "host": "****:5432",
    }
    assert shown["database"]["server"] == "postgresql://odoo:****@pg.example.com/x"
    assert "hunter2" not in repr(shown)
    summary = environment_summary(loaded)
    assert summary["staging"]["branches"] == ["main"]
    assert summary["production"]["env_file"] == str(tmp_path / "prod.env")


def test_mask_url_password() -> None:
    assert mask_url_password("postgresql://u:p@h:5432/d") == "postgresql://u:****@h:5432/d"
    assert mask_url_password("postgresql://h/d") == "postgresql://h/d"
    assert mask_url_password("sqlite") == "sqlite"
