"""Fixtures of the evidence tests: a project, a controllable clock, and stores on both
backends (SQLite under the project's state folder, and a fresh database on the
session's real PostgreSQL server)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from odooplane.config import ProjectConfig
from odooplane.evidence.store import EvidenceStore
from odooplane.project import Project

SECRET = "hunter2-Sup3rSecret"
STAGING_SECRET = "stg-Token-998877"


class Clock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 14, 7, 30, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment


def _make_project(root: Path, url: str = "sqlite", **evidence: Any) -> Project:
    root.mkdir(parents=True, exist_ok=True)
    (root / ".env.production").write_text(f"DB_PASSWORD={SECRET}\nWORKERS=2\n")
    (root / ".env.staging").write_text(f"API_TOKEN={STAGING_SECRET}\n")
    config = ProjectConfig(
        project="acme",
        odoo={"series": "17.0", "source": "/x"},
        environments={
            "production": {"kind": "production", "env_file": ".env.production"},
            "staging": {"kind": "staging", "env_file": ".env.staging"},
        },
        evidence={"url": url, **evidence},
    )
    return Project(root=root, config=config)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_project() -> Callable[..., Project]:
    """``make_project(root, url="sqlite", **evidence_settings)``: a project whose
    production env file holds :data:`SECRET` and staging's :data:`STAGING_SECRET`."""
    return _make_project


@pytest.fixture
def secrets() -> dict[str, str]:
    return {"production": SECRET, "staging": STAGING_SECRET}


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(request: pytest.FixtureRequest, backend: str) -> Iterator[str]:
    """An empty evidence store location of the test's backend."""
    if backend == "sqlite":
        yield "sqlite"
        return
    pg_server = request.getfixturevalue("pg_server")
    dbname = request.getfixturevalue("pg_dbname")
    with pg_server.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    yield pg_server.url(dbname, redact=False)


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Project:
    return _make_project(tmp_path / "project", store_url)


@pytest.fixture
def make_store(project: Project, clock: Clock) -> Iterator[Callable[..., EvidenceStore]]:
    opened: list[EvidenceStore] = []

    def make(proj: Project | None = None, **kwargs: Any) -> EvidenceStore:
        kwargs.setdefault("clock", clock)
        store = EvidenceStore.open(proj or project, **kwargs)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: Callable[..., EvidenceStore]) -> EvidenceStore:
    return make_store()
