"""Reading environments without Odoo: typed results whose JSON keys stay those of the CLI."""

from __future__ import annotations

from odooplane.environments import api as envs
from odooplane.project import Project


def test_status_of_an_environment_not_created(project: Project) -> None:
    info = envs.status(project, "production")
    assert (info.status, info.created, info.process, info.health) == ("absent", False, None, None)
    assert info.to_dict() == {
        "environment": "production",
        "kind": "production",
        "database": project.config.database_name("production"),
        "url": None,
        "status": "absent",
        "created": False,
    }


def test_list_rows(project: Project) -> None:
    rows = envs.list_environments(project)
    assert [r.environment for r in rows] == ["production", "staging"]
    assert rows[1].to_dict() == {
        "environment": "staging",
        "kind": "staging",
        "status": "absent",
        "database": f"{project.root.name}_staging",
        "url": None,
        "build": None,
        "branch": None,
        "deployed_at": None,
    }


def test_for_branch_is_typed(project: Project) -> None:
    match = envs.for_branch(project, "main")
    assert (match.environment, match.kind) == ("staging", "staging")
    assert match.to_dict()["pattern"] == "main"
