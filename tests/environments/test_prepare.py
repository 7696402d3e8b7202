"""The start-up path's choices that need no Odoo: which environment `dev` serves, and the
refusals (its real runs are in tests/dev/test_session.py, tests/test_quickstart.py and
tests/environments/test_api_odoo.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.config import load_config
from odooplane.environments.prepare import development_environment
from odooplane.errors import RefusedError, UsageError
from odooplane.project import Project


def project_with(tmp_path: Path, environments: str) -> Project:
    (tmp_path / "odooplane.yaml").write_text(
        "project: acme\nodoo:\n  series: '17.0'\n  source: /nowhere\nenvironments:\n" + environments
    )
    return Project(root=tmp_path, config=load_config(tmp_path / "odooplane.yaml"))


def test_the_first_development_environment_unless_one_is_named(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        "  production:\n    kind: production\n"
        "  feature:\n    kind: development\n    branches: ['feature/*']\n"
        "  sandbox:\n    kind: development\n    branches: ['sandbox/*']\n",
    )
    assert development_environment(project) == "feature"
    assert development_environment(project, "sandbox") == "sandbox"
    with pytest.raises(RefusedError, match="production environment"):
        development_environment(project, "production")
    with pytest.raises(UsageError, match="no environment named 'nosuch'"):
        development_environment(project, "nosuch")


def test_no_development_environment_is_a_sentence(tmp_path: Path) -> None:
    project = project_with(tmp_path, "  production:\n    kind: production\n")
    with pytest.raises(UsageError, match="defines no development environment"):
        development_environment(project)
