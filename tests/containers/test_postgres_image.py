"""The recipe of the PostgreSQL image (building it needs the engine:
tests/containers/test_database_docker.py): Debian's server under tini as ``postgres``,
and an entrypoint that initializes an empty volume once with the passwords given."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from odooplane.containers.postgres_image import (
    DATA,
    ENTRYPOINT,
    MAJOR,
    postgres_dockerfile,
    postgres_tag,
)
from odooplane.postgres.sysuser import service_user


def test_dockerfile() -> None:
    text = postgres_dockerfile("odooplane/debian:bookworm")
    assert text.startswith("FROM odooplane/debian:bookworm\n")
    assert f"postgresql-{MAJOR} tini" in text
    assert "USER postgres\n" in text and "EXPOSE 5432\n" in text
    assert f"PGDATA={DATA}" in text
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/odooplane-postgres"]' in text
    assert "pg_isready" in text
    assert postgres_tag() == f"odooplane/postgres:{MAJOR}"


def test_entrypoint_is_valid_sh_and_refuses_to_start_without_a_password(tmp_path: Path) -> None:
    script = tmp_path / "entrypoint.sh"
    script.write_text(ENTRYPOINT)
    assert subprocess.run(["sh", "-n", str(script)], capture_output=True).returncode == 0
    env = {"PATH": os.environ["PATH"], "PGDATA": str(tmp_path / "data")}
    # The refusal comes before any PostgreSQL program runs.
    done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert "set POSTGRES_PASSWORD_FILE or POSTGRES_PASSWORD" in done.stderr


@pytest.fixture
def postgres_user() -> tuple[int, int]:
    if shutil.which("initdb") is None or shutil.which("postgres") is None:
        pytest.skip("PostgreSQL's initdb and postgres are not on PATH")
    if os.geteuid() != 0:
        return os.geteuid(), os.getegid()
    user = service_user()  # PostgreSQL refuses to run as root, as in the image
    return user.uid, user.gid


def test_entrypoint_initializes_once_with_the_passwords_given(
    postgres_user: tuple[int, int],
) -> None:
    """The entrypoint run for real (outside Docker, as the image's unprivileged user):
    initdb with the superuser password from a file, Odoo's role, password logins only."""
    uid, gid = postgres_user
    base = Path(tempfile.mkdtemp(prefix="odooplane-test-pgimage-"))
    os.chmod(base, 0o711)
    try:
        (base / "secret").write_text("super-s3cret\n")
        (base / "script.sh").write_text(ENTRYPOINT)
        run_dir = base / "run"
        run_dir.mkdir()
        for path in (base / "secret", run_dir):
            os.chown(path, uid, gid)
        port = _free_port()
        env = {
            "PATH": os.environ["PATH"],
            "PGDATA": str(base / "data"),
            "POSTGRES_PASSWORD_FILE": str(base / "secret"),
            "ODOO_DB_USER": "odoo",
            "ODOO_DB_PASSWORD": "it's-odoo",
            "LANG": "C.UTF-8",
        }
        (base / "data").mkdir(mode=0o700)
        os.chown(base / "data", uid, gid)
        args = ["-p", str(port), "-c", f"unix_socket_directories={run_dir}",
                "-c", "listen_addresses=127.0.0.1"]  # fmt: skip
        proc = subprocess.Popen(
            ["sh", str(base / "script.sh"), *args],
            env=env,
            cwd=base,
            user=uid,
            group=gid,
            extra_groups=[],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            conninfo = f"host=127.0.0.1 port={port} dbname=postgres connect_timeout=2"
            deadline = time.monotonic() + 90
            while True:
                try:
                    with psycopg.connect(f"{conninfo} user=odoo password=it's-odoo") as conn:
                        row = conn.execute(
                            "SELECT rolcreatedb, rolsuper FROM pg_roles WHERE rolname = 'odoo'"
                        ).fetchone()
                    break
                except psycopg.OperationalError:
                    assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                    assert time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.3)
            assert row == (True, False)  # may create databases, never a superuser
            with psycopg.connect(f"{conninfo} user=postgres password=super-s3cret") as conn:
                assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
            with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
                psycopg.connect(f"{conninfo} user=odoo password=wrong").close()
            hba = (base / "data" / "pg_hba.conf").read_text()
            assert hba.rstrip().endswith("host all all all scram-sha-256")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        # Started again on the same volume: no second initialization.
        (base / "data" / "pg_hba.conf").write_text(hba + "# kept\n")
        again = subprocess.Popen(
            ["sh", str(base / "script.sh"), *args, "-c", "max_connections=5"],
            env={**env, "POSTGRES_PASSWORD_FILE": "", "POSTGRES_PASSWORD": ""},
            cwd=base,
            user=uid,
            group=gid,
            extra_groups=[],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with psycopg.connect(f"{conninfo} user=odoo password=it's-odoo"):
                        break
                except psycopg.OperationalError:
                    assert again.poll() is None, "the second start failed"
                    assert time.monotonic() < deadline
                    time.sleep(0.3)
        finally:
            again.terminate()
            again.wait(timeout=30)
        assert (base / "data" / "pg_hba.conf").read_text().endswith("# kept\n")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
