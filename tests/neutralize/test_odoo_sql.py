"""Reading Odoo's own neutralize.sql files: statements, tables, which file wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_addon
from odooplane.neutralize.odoo_sql import (
    addons_search_path,
    find_neutralize_file,
    module_scripts,
    script_from_text,
    split_statements,
    tables_written,
)
from odooplane.odoo.source import OdooSource


def test_split_honours_quotes_comments_and_escapes() -> None:
    text = (
        "-- a comment; with a semicolon\n"
        "UPDATE website SET robots_txt = E'User-agent: *\\nDisallow: /;';\n"
        "UPDATE t SET v = 'it''s; fine' WHERE k = \"odd;name\";\n"
        "/* block; comment */ DELETE FROM x WHERE y = $$a;b$$;"
        "UPDATE last SET a = 1"
    )
    statements = split_statements(text)
    assert statements == [
        "UPDATE website SET robots_txt = E'User-agent: *\\nDisallow: /;'",
        "UPDATE t SET v = 'it''s; fine' WHERE k = \"odd;name\"",
        "DELETE FROM x WHERE y = $$a;b$$",
        "UPDATE last SET a = 1",
    ]


def test_tables_written() -> None:
    assert tables_written(
        [
            "UPDATE ir_mail_server SET active = false",
            "INSERT INTO ir_config_parameter (key, value) VALUES ('a', 'b') ON CONFLICT (key) DO "
            "UPDATE SET value = 'b'",
            "TRUNCATE mail_partner_device CASCADE",
            "DELETE FROM ir_config_parameter WHERE key = 'x'",
            'UPDATE ONLY "website" SET domain = NULL',
        ]
    ) == ["ir_mail_server", "ir_config_parameter", "mail_partner_device", "website"]


def test_base_dummy_mail_server_insert_is_left_out() -> None:
    script = script_from_text(
        "odoo:base",
        "base/data/neutralize.sql",
        "UPDATE ir_mail_server SET active = false;\n"
        "INSERT INTO ir_mail_server(name, smtp_port) VALUES ('neutralization - disable emails', "
        "1025);\n",
    )
    assert script.statements == ("UPDATE ir_mail_server SET active = false",)
    assert len(script.skipped) == 1


def test_project_addon_shadows_odoo_addon_but_not_core(tmp_path: Path) -> None:
    odoo = tmp_path / "odoo-src"
    write_addon(
        odoo / "odoo" / "addons", "base", extra={"data/neutralize.sql": "UPDATE a SET b = 1;"}
    )
    write_addon(
        odoo / "addons",
        "payment",
        extra={"data/neutralize.sql": "UPDATE payment_provider SET x = 1;"},
    )
    write_addon(
        odoo / "addons", "mail", extra={"data/neutralize.sql": "UPDATE mail_template SET y = 1;"}
    )
    project = tmp_path / "project"
    write_addon(project, "base", extra={"data/neutralize.sql": "UPDATE evil SET z = 1;"})
    write_addon(project, "payment")  # a patched copy without the file
    write_addon(project, "acme", extra={"data/neutralize.sql": "UPDATE acme SET w = 1;"})
    search = addons_search_path(odoo, [project])
    assert (
        find_neutralize_file("base", search)
        == (odoo / "odoo/addons/base/data/neutralize.sql").resolve()
    )
    assert find_neutralize_file("payment", search) is None
    assert (
        find_neutralize_file("mail", search) == (odoo / "addons/mail/data/neutralize.sql").resolve()
    )
    scripts = module_scripts(["acme", "base", "mail", "payment", "unknown"], search)
    assert [s.name for s in scripts] == ["odoo:acme", "odoo:base", "odoo:mail"]


@pytest.mark.odoo
def test_every_file_of_the_series_parses(series_source: OdooSource) -> None:
    """Each neutralize.sql of the tree splits into statements that each name the table
    they write (what the change tracker credits to ``odoo:<module>``)."""
    tree = series_source.path
    search = addons_search_path(tree, [])
    modules = sorted(p.parent.parent.name for p in tree.glob("**/data/neutralize.sql"))
    scripts = module_scripts(modules, search)
    assert len(scripts) == len(modules) >= 40
    for script in scripts:
        assert script.statements, script.source
        assert len(tables_written(script.statements)) >= 1, script.source
        for statement in script.statements:
            assert tables_written([statement]), f"{script.source}: {statement}"
    base = next(s for s in scripts if s.name == "odoo:base")
    assert base.skipped and "ir_mail_server" in base.skipped[0]
    assert set(base.tables) >= {"ir_mail_server", "ir_cron", "ir_config_parameter", "ir_act_server"}
