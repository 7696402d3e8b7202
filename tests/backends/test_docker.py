"""The Docker backend's translation of the local view (odoo.conf, command lines) into
the container's, and the container spec it runs (unit: no engine needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from odooplane.backends.docker import DockerBackend, NetworkInfo
from odooplane.config import load_config
from odooplane.containers import images
from odooplane.containers.spec import ContainerSpec, Mount, Publish
from odooplane.environments.builds import Build
from odooplane.errors import ConfigError
from odooplane.project import Project

NET = NetworkInfo("odooplane-shop", "172.30.0.1", "172.30.0.0/16")


def _project(tmp_path: Path, server: str = "embedded") -> Project:
    path = tmp_path / "odooplane.yaml"
    database = "" if server == "embedded" else f"database:\n  server: '{server}'\n"
    path.write_text(
        "project: shop\nodoo:\n  series: '17.0'\n  source: odoo-src\n"
        + database
        + "environments:\n  production:\n    kind: production\n    backend: docker\n"
    )
    return Project(root=tmp_path, config=load_config(path))


def _build(tmp_path: Path) -> Build:
    return Build(
        sha="c" * 40,
        ref="main",
        branch="main",
        subject="s",
        message="s",
        author_name="a",
        author_email="a@example.com",
        committed_at="2026-01-01T00:00:00+00:00",
        authored_at="2026-01-01T00:00:00+00:00",
        odoo_series="17.0",
        odoo_revision="d" * 40,
        odoo_path=str(tmp_path / "odoo"),
        deps_hash="feedfacefeedface",
        runtime_path=str(tmp_path / "rt"),
        python=str(tmp_path / "rt" / "bin" / "python"),
        code_dir=str(tmp_path / "builds" / "code"),
        project_subdir="",
    )


def _conf(tmp_path: Path, db_host: str = "127.0.0.1") -> str:
    return (
        "[options]\n"
        f"addons_path = {tmp_path}/odoo/odoo/addons,{tmp_path}/builds/code/addons\n"
        f"data_dir = {tmp_path}/.odooplane/odoo-data\n"
        f"db_host = {db_host}\ndb_port = 5433\ndb_name = shop_production\n"
        "http_port = 18069\ngevent_port = 18072\n"
        "smtp_server = 127.0.0.1\nsmtp_port = 2600\n"
    )


def test_conf_is_translated_for_the_inside(tmp_path: Path) -> None:
    backend = DockerBackend(_project(tmp_path))
    text, outside = backend.translate_conf(_conf(tmp_path), _build(tmp_path), NET, log_to_file=True)
    assert "addons_path = /opt/odoo/src/odoo/addons,/opt/odoo/project/addons\n" in text
    assert "data_dir = /var/lib/odoo\n" in text
    assert "db_host = 172.30.0.1\n" in text and "db_port = 5433\n" in text
    assert "smtp_server = 172.30.0.1\n" in text
    assert "http_port = 8069\n" in text and "http_interface = 0.0.0.0\n" in text
    assert "logfile = /var/log/odoo/odoo.log\n" in text
    assert outside["publish"] == [Publish(18069, 8069), Publish(18072, 8072)]
    assert outside["filestore"] == tmp_path / ".odooplane/odoo-data/filestore/shop_production"
    assert sorted(outside["listen"]) == ["mail", "postgres"]


def test_external_server_on_loopback_is_refused(tmp_path: Path) -> None:
    backend = DockerBackend(_project(tmp_path, "postgresql://u:p@127.0.0.1:5432/postgres"))
    with pytest.raises(ConfigError, match="containers cannot reach"):
        backend.translate_conf(_conf(tmp_path), _build(tmp_path), NET, log_to_file=False)
    text, outside = DockerBackend(
        _project(tmp_path, "postgresql://u:p@db.example.com:5432/postgres")
    ).translate_conf(_conf(tmp_path, "db.example.com"), _build(tmp_path), NET, log_to_file=False)
    assert "db_host = db.example.com\n" in text and "logfile" not in text
    assert outside["listen"] == ["mail"]


def test_command_line_gets_the_image_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    b = _build(tmp_path)
    runtime = type("R", (), {"python": Path(b.python)})()
    monkeypatch.setattr("odooplane.environments.builds.runtime_of", lambda _b: runtime)
    backend = DockerBackend(_project(tmp_path))
    conf = tmp_path / "env" / "odoo.conf"
    argv = [b.python, f"{b.odoo_path}/odoo-bin", "-c", str(conf), "-d", "db", "-u", "sale"]
    assert backend._inner_argv(argv, b) == [
        "/opt/odoo/venv/bin/python",
        "/opt/odoo/src/odoo-bin",
        "-c",
        "/etc/odoo/odoo.conf",
        "-d",
        "db",
        "-u",
        "sale",
    ]


def test_container_spec_publishes_on_loopback_and_hides_values() -> None:
    spec = ContainerSpec(
        name="odooplane-shop-production",
        image="sha256:abc",
        network="odooplane-shop",
        mounts=[Mount("bind", "/s/odoo.conf", str(images.CONF_PATH), read_only=True)],
        publish=[Publish(18069, 8069)],
        env={"API_TOKEN": "s3cret"},
        labels={"org.odooplane.environment": "production"},
    )
    args = spec.run_args()
    assert "127.0.0.1:18069:8069" in args
    assert "type=bind,source=/s/odoo.conf,target=/etc/odoo/odoo.conf,readonly" in args
    assert "s3cret" not in " ".join(args)  # the value travels in the client's environment
    once = spec.run_args(detached_service=False)
    assert "--publish" not in once and "--restart" not in once
    service = spec.compose_service()
    assert service["ports"] == ["127.0.0.1:18069:8069"]
    assert service["volumes"][0]["read_only"] is True


def test_chown_tree_takes_files_and_folders(tmp_path: Path) -> None:
    from odooplane.backends.docker import chown_tree

    (tmp_path / "store" / "ab").mkdir(parents=True)
    (tmp_path / "store" / "ab" / "file").write_text("x")
    (tmp_path / "odoo.log").write_text("")
    chown_tree(tmp_path / "store", uid=12345)
    chown_tree(tmp_path / "odoo.log", uid=12345)
    if os.geteuid() == 0:
        owners = {
            p.stat().st_uid for p in [tmp_path / "odoo.log", *(tmp_path / "store").rglob("*")]
        }
        assert owners == {12345}
        assert (tmp_path / "store").stat().st_uid == 12345


def test_each_slot_is_a_container_sharing_the_environment_volumes(tmp_path: Path) -> None:
    from odooplane.backends.docker import container_name

    project = _project(tmp_path)
    assert container_name(project, "production.blue") == "odooplane-shop-production-blue"
    assert container_name(project, "production.green") == "odooplane-shop-production-green"
    # The one program of an environment from before slots.
    assert container_name(project, "production") == "odooplane-shop-production"
    backend = DockerBackend(project)
    assert backend.volume_names("production") == (
        "odooplane-shop-production-filestore",
        "odooplane-shop-production-sessions",
    )
    assert backend._program_labels("production.green") == {
        "org.odooplane.project": "shop",
        "org.odooplane.managed": "true",
        "org.odooplane.environment": "production",
        "org.odooplane.slot": "green",
    }
    # Mounted files are kept per slot in the environment's own folder.
    env_dir = project.state_dir / "environments" / "production" / "container"
    assert backend._container_dir("production.blue") == env_dir / "blue"
    assert backend._container_dir("production") == env_dir / "main"
