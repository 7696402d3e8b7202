"""Which backend runs an environment: the local supervisord, through the interface."""

from __future__ import annotations

from pathlib import Path

from odooplane.backends import ProcessBackend, backend_for
from odooplane.backends.supervisor import SupervisorBackend
from odooplane.config import ProjectConfig
from odooplane.project import Project


def _project(root: Path) -> Project:
    config = ProjectConfig(
        project="acme",
        odoo={"series": "17.0", "source": "/x"},
        environments={"production": {"kind": "production", "backend": "local"}},
    )
    return Project(root=root, config=config)


def test_local_environments_and_orphans_run_under_the_project_supervisord(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path)
    for name in ("production", "removed-from-the-config"):
        backend = backend_for(project, name)
        assert isinstance(backend, ProcessBackend) and isinstance(backend, SupervisorBackend)
        assert backend.kind == "local"
        assert backend.state_dir == project.state_dir
        # Reading never starts anything.
        assert backend.status(name).state == "ABSENT"
        assert backend.programs() == []
        assert not backend.is_running()


def test_a_project_with_docker_environments_has_both_backends(tmp_path: Path) -> None:
    from odooplane.backends.docker import DockerBackend
    from odooplane.backends.factory import project_backends

    config = ProjectConfig(
        project="acme",
        odoo={"series": "17.0", "source": "/x"},
        environments={
            "production": {"kind": "production", "backend": "docker"},
            "staging": {"kind": "staging", "backend": "local"},
        },
    )
    project = Project(root=tmp_path, config=config)
    kinds = [type(b) for b in project_backends(project)]
    # The local one always: the keeper and the front door run under its supervisord.
    assert kinds == [SupervisorBackend, DockerBackend]
    assert [type(b) for b in project_backends(_project(tmp_path))] == [SupervisorBackend]


def test_kubernetes_environments_and_previews_get_the_kubernetes_backend(
    tmp_path: Path,
) -> None:
    from odooplane.backends.factory import backend_named, project_backends
    from odooplane.backends.kubernetes.backend import KubernetesBackend
    from odooplane.previews.records import PreviewRecord, PreviewStore

    config = ProjectConfig(
        project="acme",
        odoo={"series": "17.0", "source": "/x"},
        environments={"production": {"kind": "production", "backend": "kubernetes"}},
        previews={"enabled": True, "data": "demo", "backend": "kubernetes"},
    )
    project = Project(root=tmp_path, config=config)
    assert isinstance(backend_for(project, "production"), KubernetesBackend)
    assert not backend_for(project, "production").serves_here
    PreviewStore(project.state_dir).save(
        PreviewRecord(
            name="pr-3-x",
            pr=3,
            branch="x",
            title=None,
            ref="x",
            data="demo",
            url="http://pr-3-x.example",
            hostname=None,
            public_port=0,
            created_at="2026-01-01T00:00:00+00:00",
            updated_at="2026-01-01T00:00:00+00:00",
        )
    )
    assert isinstance(backend_for(project, "pr-3-x"), KubernetesBackend)
    assert isinstance(backend_named(project, "kubernetes"), KubernetesBackend)
    kinds = [type(b) for b in project_backends(project)]
    assert kinds == [SupervisorBackend, KubernetesBackend]
