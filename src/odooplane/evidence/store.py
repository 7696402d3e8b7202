"""The evidence store: the one writer of the ``ops`` tables, and their reader.

Writes go through :meth:`EvidenceStore._write`, which redacts every row, inserts with
"on conflict do nothing" on the UUID primary keys (so a row delivered twice is stored
once), and, for a PostgreSQL store that cannot be reached, appends the rows to the
local spool instead. Spooled rows are delivered before any later row (order matters:
a deployment's events refer to it), at the start of the next recording call, when the
store is opened, or by ``odooplane evidence sync``.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from odooplane.errors import ExternalToolError, NotFoundError, RefusedError, UsageError
from odooplane.evidence import chain, schema
from odooplane.evidence.artifacts import (
    ArtifactLayout,
    ArtifactWriter,
    parse_offset,
    read_artifact,
    sha256_of,
    slug,
    write_artifact,
)
from odooplane.evidence.engine import (
    StoreLocation,
    create_store_engine,
    resolve_location,
)
from odooplane.evidence.recorder import (
    RECOVERY_SEQ,
    DeploymentRecorder,
    OutputCapture,
    _ms,
    closed_step_event_id,
    finished_event_id,
)
from odooplane.evidence.records import (
    OUTCOMES,
    RUNNING,
    BuildImageRecord,
    BuildRecord,
    DeploymentDetail,
    DeploymentSummary,
    GateRunRecord,
    HealthCheckRecord,
    MigrationRecord,
    NeutralizationRecord,
    StepLog,
    StepRecord,
    event_from_row,
    gate_run_from_row,
    neutralization_from_row,
    steps_from_events,
    summary_from_row,
)
from odooplane.evidence.redact import Redactor, redactor_for
from odooplane.evidence.spool import Spool, SpoolBatch
from odooplane.results import Result

if TYPE_CHECKING:
    from odooplane.config import EnvironmentConfig
    from odooplane.project import Project

Clock = Callable[[], datetime]
Row = dict[str, Any]

# Ids derived from content (builds, environment definitions) live in this namespace.
_NAMESPACE = uuid.UUID("6f6f7073-6f64-4f6f-a16e-65766964656e")
# After a failed connection, record straight to the spool for this long rather than
# make every event of a running deployment wait for a connect timeout.
OFFLINE_BACKOFF_SECONDS = 30.0
# Spooled batches delivered per transaction.
DELIVERY_CHUNK = 200
# Columns that are never redacted: hashes and paths odooplane computes itself (masking
# a secret that happens to be a substring of a SHA would break traceability), and the
# identifiers records are found by (an env file saying SITE=staging must not turn the
# environment "staging" into "***"). Free text and JSON documents are always redacted.
_VERBATIM = frozenset(
    {
        "git_sha",
        "artifact_sha256",
        "archive_sha256",
        "dependencies_hash",
        "odoo_revision",
        "odoo_series",
        "artifact_path",
        "archive_path",
        "artifacts_dir",
        "project",
        "environment",
        "name",
        "kind",
        "database",
        "source_database",
        "gate",
        "step",
        "status",
        "module",
        "from_version",
        "to_version",
        "branch",
        "approved_by",
        "recorded_by",
        "image_id",
        "base_image_id",
        "tag",
        "base_image",
    }
)
_ID_PREFIX_RE = re.compile(r"^[0-9a-fA-F-]{6,36}$")
_IMAGE_ID_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
# The "finished" event of a deployment (at most one: its id is derived from the
# deployment's), joined to deployments to read their outcome.
_FINISHED = schema.deployment_events.alias("f")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _is_unreachable(exc: BaseException) -> bool:
    """A failure to reach the database, as opposed to a failed statement."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError))


def _error_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__


@dataclass(frozen=True)
class SyncResult(Result):
    delivered: int
    pending: int
    reachable: bool
    error: str | None = None


@dataclass(frozen=True)
class StoreStatus(Result):
    backend: str
    location: str
    revision: str | None
    head: str
    reachable: bool
    spooled_rows: int
    artifacts_root: str
    error: str | None = None


class EvidenceStore:
    """Records and reads a project's evidence. Open it with :meth:`open`."""

    def __init__(
        self,
        *,
        location: StoreLocation,
        project_name: str,
        project_root: Path,
        state_dir: Path,
        layout: ArtifactLayout,
        redactor: Redactor,
        clock: Clock | None = None,
        environments: Mapping[str, EnvironmentConfig] | None = None,
        compress_after_days: int = 7,
    ) -> None:
        self.location = location
        self.project_name = project_name
        self.project_root = project_root
        self.state_dir = state_dir
        self.layout = layout
        self.redactor = redactor
        self.clock: Clock = clock or _utcnow
        self.environments = dict(environments or {})
        self.compress_after_days = compress_after_days
        self.engine: Engine = create_store_engine(location)
        self.evidence_dir = state_dir / "evidence"
        self.spool: Spool | None = (
            Spool(self.evidence_dir) if location.backend == "postgresql" else None
        )
        # SQLite: where rows go when the file cannot be written (disk full), delivered
        # by the next command that opens the store, or `odooplane evidence sync`.
        self.local_spool: Spool | None = (
            Spool(self.evidence_dir) if location.backend != "postgresql" else None
        )
        # What could not be recorded as asked (a log not written, a record spooled):
        # the operation went on; its caller shows these.
        self.warnings: list[str] = []
        self._ready = False
        self.offline_backoff_seconds = OFFLINE_BACKOFF_SECONDS
        self._offline_until = 0.0
        self._last_error: str | None = None

    # -- opening --------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        project: Project,
        *,
        clock: Clock | None = None,
        redactor: Redactor | None = None,
        sync: bool = True,
    ) -> EvidenceStore:
        """The store configured by ``evidence:`` in the project's odooplane.yaml.

        Opening never fails because a PostgreSQL store is unreachable (records are then
        spooled); with ``sync`` it first tries to deliver what earlier commands spooled.
        """
        config = project.config
        settings = config.evidence
        if redactor is None:
            env_files = [
                project.root / env.env_file for env in config.environments.values() if env.env_file
            ]
            redactor = redactor_for(env_files, urls=[settings.url, config.database.server])
        artifacts = Path(settings.artifacts).expanduser()
        store = cls(
            location=resolve_location(settings.url, project.state_dir),
            project_name=config.project,
            project_root=project.root,
            state_dir=project.state_dir,
            layout=ArtifactLayout(
                root=artifacts if artifacts.is_absolute() else project.root / artifacts,
                project_root=project.root,
                offset=parse_offset(settings.timezone),
            ),
            redactor=redactor,
            clock=clock,
            environments=config.environments,
            compress_after_days=settings.compress_after_days,
        )
        pending = store.spool or store.local_spool
        if sync and pending is not None and not pending.is_empty():
            with contextlib.suppress(ExternalToolError):
                store.sync()
        return store

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> EvidenceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def warn(self, message: str) -> None:
        """Keep ``message`` for the caller: something was not recorded as asked, and the
        operation went on."""
        if message not in self.warnings:
            self.warnings.append(message)

    def now(self) -> datetime:
        moment = self.clock()
        if moment.tzinfo is None:
            raise ValueError("the evidence clock must return timezone-aware datetimes")
        return moment.astimezone(timezone.utc)

    # -- schema ---------------------------------------------------------------------------

    def _current_revision(self, conn: sa.Connection) -> str | None:
        if not sa.inspect(conn).has_table(schema.VERSION_TABLE, schema=schema.SCHEMA):
            return None
        value = conn.execute(
            sa.text(f"SELECT version_num FROM {schema.SCHEMA}.{schema.VERSION_TABLE}")
        ).scalar()
        return None if value is None else str(value)

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            return self._current_revision(conn)

    def _ensure_schema(self) -> None:
        if self._ready:
            return
        with self.engine.connect() as conn:
            current = self._current_revision(conn)
        if current != schema.HEAD_REVISION:
            self.migrate()
        self._ready = True

    def migrate(self, target: str = "head") -> tuple[str | None, str | None]:
        """Bring the schema to ``target`` in one transaction; returns (before, after)."""
        from odooplane.evidence import migrate

        with self._write_connection() as conn:
            before = self._current_revision(conn)
            known = {script.revision for script in migrate.revisions()}
            if before is not None and before not in known:
                raise RefusedError(
                    f"The evidence store {self.location.display} is at schema revision "
                    f"'{before}', which this odooplane does not know.",
                    hint="It was written by a newer odooplane: upgrade odooplane here.",
                )
            if target == "head" or target in known:
                migrate.upgrade(conn, target)
                if self._current_revision(conn) not in (None, "0001", "0002"):
                    # Records from before the chain are vouched for once, here.
                    chain.backfill(conn)
            else:
                raise UsageError(f"'{target}' is not an evidence schema revision.")
            after = self._current_revision(conn)
        return before, after

    # -- connections ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _write_connection(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        """A connection for queries; an unreachable store is a sentence, not a trace."""
        try:
            self._ensure_schema()
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.DBAPIError as exc:
            if not _is_unreachable(exc):
                raise
            waiting = self.spool.pending_rows() if self.spool is not None else 0
            raise ExternalToolError(
                f"The evidence store {self.location.display} cannot be reached: {_error_line(exc)}",
                hint=(
                    f"{waiting} record(s) are spooled locally and will be delivered by "
                    "`odooplane evidence sync` once it is back."
                    if self.spool is not None
                    else "Check the file's permissions and free disk space."
                ),
            ) from None

    # -- the write path -------------------------------------------------------------------

    def _clean(self, table: sa.Table, row: Mapping[str, Any]) -> Row:
        unknown = set(row) - set(table.c.keys())
        if unknown:
            raise ValueError(f"{table.name} has no column(s) {sorted(unknown)}")
        json_columns = {c.name for c in table.c if isinstance(c.type, schema.JsonDocument)}
        clean: Row = {}
        for column in [c.name for c in table.c]:
            value = row.get(column)
            if column in _VERBATIM or value is None:
                clean[column] = value
            elif column in json_columns:
                clean[column] = self.redactor.value(value)
            elif isinstance(value, str):
                clean[column] = self.redactor.text(value)
            else:
                clean[column] = value
        return clean

    def _insert_statement(self, table: sa.Table) -> Any:
        # Dialect modules imported on use: a SQLite store never loads PostgreSQL's.
        if self.location.backend == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing()
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()

    def _insert(self, conn: sa.Connection, rows: Sequence[tuple[sa.Table, Row]]) -> None:
        # Consecutive rows of one table go in one executemany; order is kept so parents
        # are stored before the rows referring to them. Each new row is chained by hash
        # in the same transaction (odooplane.evidence.chain); one delivered twice (the
        # spool) is stored and chained once.
        chain.insert_chained(conn, rows, insert=self._insert_statement)

    def _insert_now(self, rows: Sequence[tuple[sa.Table, Row]]) -> None:
        self._ensure_schema()
        try:
            with self._write_connection() as conn:
                self._insert(conn, rows)
        except sa.exc.OperationalError as exc:
            if self.spool is not None:
                raise
            raise ExternalToolError(
                f"The evidence database {self.location.display} could not be written: "
                f"{_error_line(exc)}",
                hint="Check free disk space and the permissions of the .odooplane folder.",
            ) from None

    def _write(self, rows: Sequence[tuple[sa.Table, Mapping[str, Any]]]) -> list[Row]:
        """Store rows (redacted) in one transaction, or spool them; returns what was kept."""
        clean = [(table, self._clean(table, row)) for table, row in rows]
        if self.local_spool is not None:
            return self._write_local(clean)
        if self.spool is None:
            self._insert_now(clean)
            return [row for _, row in clean]
        if time.monotonic() >= self._offline_until and self._drain_spool():
            try:
                self._insert_now(clean)
                return [row for _, row in clean]
            except sa.exc.DBAPIError as exc:
                if not _is_unreachable(exc):
                    raise
                self._went_offline(exc)
        self.spool.append([(table.name, row) for table, row in clean])
        return [row for _, row in clean]

    def _write_local(self, clean: list[tuple[sa.Table, Row]]) -> list[Row]:
        """SQLite: insert, or, when the file cannot be written, keep the rows in the local
        spool (after rows already waiting there, so a deployment precedes its events)."""
        assert self.local_spool is not None
        spool = self.local_spool
        try:
            if not spool.is_empty():
                self._ensure_schema()
                spool.drain(self._deliver)
            self._insert_now(clean)
            return [row for _, row in clean]
        except (ExternalToolError, sa.exc.OperationalError) as exc:
            reason = exc.message if isinstance(exc, ExternalToolError) else _error_line(exc)
        try:
            spool.append([(table.name, row) for table, row in clean])
        except OSError as exc:
            raise ExternalToolError(
                f"Evidence could not be recorded: {reason}; nor spooled in {spool.path} "
                f"({exc.strerror or exc}).",
                hint="Free disk space, then run the command again.",
            ) from None
        self.warn(
            f"{reason} The record is kept in {spool.path} and delivered by the next "
            "command (or `odooplane evidence sync`)."
        )
        return [row for _, row in clean]

    def _went_offline(self, exc: BaseException) -> None:
        self._offline_until = time.monotonic() + self.offline_backoff_seconds
        self._last_error = _error_line(exc)
        self._ready = False
        self.engine.dispose()

    def _drain_spool(self) -> bool:
        """Deliver the spool if it holds anything; True when it is empty afterwards."""
        assert self.spool is not None
        if self.spool.is_empty():
            return True
        try:
            self._ensure_schema()
            self.spool.drain(self._deliver)
        except sa.exc.DBAPIError as exc:
            if not _is_unreachable(exc):
                raise
            self._went_offline(exc)
            return False
        return True

    def _deliver(self, batches: Sequence[SpoolBatch]) -> None:
        for start in range(0, len(batches), DELIVERY_CHUNK):
            chunk = batches[start : start + DELIVERY_CHUNK]
            rows = [
                (schema.TABLES_BY_NAME[table], self._clean(schema.TABLES_BY_NAME[table], row))
                for batch in chunk
                for table, row in batch.rows
            ]
            with self._write_connection() as conn:
                self._insert(conn, rows)

    def sync(self) -> SyncResult:
        """Deliver the spool now (``odooplane evidence sync``)."""
        if self.local_spool is not None:
            pending = self.local_spool.pending_rows()
            if pending:
                try:
                    self._ensure_schema()
                    delivered = self.local_spool.drain(self._deliver)
                except sa.exc.OperationalError as exc:
                    raise ExternalToolError(
                        f"The evidence database {self.location.display} could not be "
                        f"written: {_error_line(exc)}",
                        hint=f"{pending} record(s) wait in {self.local_spool.path}; free disk "
                        "space and run `odooplane evidence sync` again.",
                    ) from None
                return SyncResult(delivered=delivered, pending=0, reachable=True)
        if self.spool is None:
            return SyncResult(delivered=0, pending=0, reachable=True)
        pending = self.spool.pending_rows()
        if pending == 0:
            return SyncResult(delivered=0, pending=0, reachable=True)
        self._offline_until = 0.0
        try:
            self._ensure_schema()
            delivered = self.spool.drain(self._deliver)
        except sa.exc.DBAPIError as exc:
            if not _is_unreachable(exc):
                raise
            self._went_offline(exc)
            return SyncResult(
                delivered=0,
                pending=self.spool.pending_rows(),
                reachable=False,
                error=self._last_error,
            )
        return SyncResult(delivered=delivered, pending=self.spool.pending_rows(), reachable=True)

    def verify(self) -> chain.Verification:
        """Check every record against the hash chain (``odooplane evidence verify``):
        read-only; spooled records not delivered yet are not in it."""
        with self._read() as conn:
            return chain.verify(conn)

    def insert_records(self, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Store already-formed rows by table name in one transaction (imports, benchmarks).

        Rows are redacted and inserted idempotently like every other record.
        """
        self._write([(schema.TABLES_BY_NAME[name], row) for name, row in rows])

    # -- recording ------------------------------------------------------------------------

    def _environment_row(self, name: str) -> Row | None:
        env = self.environments.get(name)
        if env is None:
            return None
        definition = env.model_dump(mode="json", by_alias=True)
        key = json.dumps([self.project_name, name, definition], sort_keys=True)
        return {
            "id": uuid.uuid5(_NAMESPACE, key),
            "project": self.project_name,
            "name": name,
            "kind": env.kind.value,
            "database": env.database,
            "url": env.url,
            "definition": definition,
            "recorded_at": self.now(),
        }

    def record_environment(self, name: str) -> uuid.UUID | None:
        """Record the environment's current definition from odooplane.yaml (once per
        distinct definition; done by :meth:`start_deployment` too). None when the
        project has no environment of that name."""
        row = self._environment_row(name)
        if row is None:
            return None
        self._write([(schema.environments, row)])
        return uuid.UUID(str(row["id"]))

    def record_build(
        self,
        *,
        git_sha: str,
        branch: str | None = None,
        commit_message: str | None = None,
        author: str | None = None,
        committed_at: datetime | None = None,
        odoo_series: str | None = None,
        odoo_revision: str | None = None,
        dependencies_hash: str | None = None,
    ) -> BuildRecord:
        """A build: (git SHA, Odoo revision, dependencies hash). Recording the same build
        again returns the same id and stores nothing new."""
        if not re.fullmatch(r"[0-9a-f]{7,40}", git_sha):
            raise UsageError(f"'{git_sha}' is not a git commit SHA.")
        build_id = uuid.uuid5(
            _NAMESPACE,
            f"build:{self.project_name}:{git_sha}:{odoo_revision or ''}:{dependencies_hash or ''}",
        )
        row = {
            "id": build_id,
            "project": self.project_name,
            "git_sha": git_sha,
            "branch": branch,
            "commit_message": commit_message,
            "author": author,
            "committed_at": committed_at,
            "odoo_series": odoo_series,
            "odoo_revision": odoo_revision,
            "dependencies_hash": dependencies_hash,
            "recorded_at": self.now(),
        }
        stored = self._write([(schema.builds, row)])[0]
        return BuildRecord(**stored)

    def record_build_image(
        self,
        build_id: uuid.UUID,
        *,
        git_sha: str,
        image_id: str,
        tag: str | None = None,
        base_image: str | None = None,
        base_image_id: str | None = None,
        layers: Mapping[str, str] | None = None,
        size_bytes: int | None = None,
    ) -> BuildImageRecord:
        """The OCI image build ``build_id`` runs from. Recording the same image of the
        same build again returns the same record and stores nothing new; another image
        of the build (made again from another base) is a record of its own."""
        if not re.fullmatch(r"[0-9a-f]{7,40}", git_sha):
            raise UsageError(f"'{git_sha}' is not a git commit SHA.")
        if not _IMAGE_ID_RE.match(image_id):
            raise UsageError(
                f"'{image_id}' is not an image id (sha256:<64 hex digits>, as `docker "
                "inspect` gives it)."
            )
        row = {
            "id": uuid.uuid5(_NAMESPACE, f"build-image:{build_id}:{image_id}"),
            "project": self.project_name,
            "build_id": build_id,
            "git_sha": git_sha,
            "image_id": image_id,
            "tag": tag,
            "base_image": base_image,
            "base_image_id": base_image_id,
            "layers": dict(layers) if layers is not None else None,
            "size_bytes": size_bytes,
            "recorded_at": self.now(),
        }
        stored = self._write([(schema.build_images, row)])[0]
        return BuildImageRecord(**stored)

    def build_images(
        self, *, build_id: uuid.UUID | None = None, git_sha: str | None = None
    ) -> list[BuildImageRecord]:
        """The images recorded for a build (by id, or every build of a commit), oldest
        first."""
        bi = schema.build_images
        query = sa.select(bi).where(bi.c.project == self.project_name)
        if build_id is not None:
            query = query.where(bi.c.build_id == build_id)
        if git_sha is not None:
            query = query.where(bi.c.git_sha == git_sha)
        with self._read() as conn:
            return [
                BuildImageRecord(**row)
                for row in conn.execute(query.order_by(bi.c.recorded_at, bi.c.id)).mappings()
            ]

    def record_build_from_git(
        self,
        repo: Path,
        ref: str = "HEAD",
        *,
        odoo_series: str | None = None,
        odoo_revision: str | None = None,
        dependencies_hash: str | None = None,
    ) -> BuildRecord:
        """:meth:`record_build` with the commit's metadata read from git."""
        from odooplane import gitrepo

        info = gitrepo.commit_info(repo, ref)
        branch = gitrepo.branch_of(repo, ref, info.sha)
        return self.record_build(
            git_sha=info.sha,
            branch=branch,
            commit_message=info.message,
            author=f"{info.author_name} <{info.author_email}>",
            committed_at=datetime.fromisoformat(info.timestamp),
            odoo_series=odoo_series,
            odoo_revision=odoo_revision,
            dependencies_hash=dependencies_hash,
        )

    def start_deployment(
        self,
        environment: str,
        *,
        git_sha: str,
        build_id: uuid.UUID | None = None,
        kind: str = "deploy",
        approved_by: str | None = None,
        rollback_of: uuid.UUID | None = None,
        previous_deployment_id: uuid.UUID | None = None,
    ) -> DeploymentRecorder:
        """Record the start of a deployment and return its recorder.

        The previous deployment (what this one replaces) defaults to the latest
        successful one of the environment; it is left empty when the store cannot be
        read (unreachable PostgreSQL) rather than holding up the deployment.
        """
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,15}", kind):
            raise UsageError(f"'{kind}' is not a deployment kind (e.g. deploy, rollback).")
        if not re.fullmatch(r"[0-9a-f]{7,40}", git_sha):
            raise UsageError(f"'{git_sha}' is not a git commit SHA.")
        started = self.now()
        deployment_id = uuid.uuid4()
        if previous_deployment_id is None:
            previous_deployment_id = self._previous_success(environment)
        topic = f"deploy-{environment}-{deployment_id.hex[:8]}"
        topic_dir = self.layout.topic_dir(started, topic)
        row: Row = {
            "id": deployment_id,
            "project": self.project_name,
            "environment": environment,
            "kind": kind,
            "build_id": build_id,
            "git_sha": git_sha,
            "previous_deployment_id": previous_deployment_id,
            "rollback_of": rollback_of,
            "approved_by": approved_by,
            "recorded_by": f"{getpass.getuser()}@{socket.gethostname()}",
            "started_at": started,
            "artifacts_dir": self.layout.to_record(topic_dir),
            "recorded_at": started,
        }
        rows: list[tuple[sa.Table, Mapping[str, Any]]] = []
        env_row = self._environment_row(environment)
        if env_row is not None:
            rows.append((schema.environments, env_row))
        rows.append((schema.deployments, row))
        stored = self._write(rows)[-1]
        try:
            topic_dir.joinpath("logs").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.warn(
                f"The logs folder {topic_dir} could not be created ({exc.strerror or exc}); "
                "step logs are kept in the records instead."
            )
        return DeploymentRecorder(
            self,
            deployment_id=deployment_id,
            environment=environment,
            git_sha=git_sha,
            started_at=started,
            topic_dir=topic_dir,
            row=stored,
        )

    def close_interrupted(
        self,
        deployment_id: uuid.UUID | str,
        *,
        outcome: str = "interrupted",
        phase: str | None = None,
        step: str | None = None,
        recovered_by: uuid.UUID | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> list[str]:
        """Give a deployment whose process died its outcome (idempotent).

        Its steps left open end ``interrupted``; the ``finished`` event carries
        ``outcome`` (``interrupted``, or ``succeeded`` when the recovery found the new
        build serving and finished the deployment), the journal's ``phase`` and the step
        that was running. A deployment that already has an outcome keeps it. Returns the
        names of the steps closed. When the store cannot be read (a PostgreSQL store
        offline), only the outcome is written (spooled), naming ``step`` from the journal.
        """
        if outcome not in OUTCOMES:
            raise UsageError(f"'{outcome}' is not a deployment outcome.")
        dep_id = uuid.UUID(str(deployment_id))
        now = self.now()
        started_at: datetime | None = None
        open_steps: list[StepRecord] = []
        try:
            detail = self.deployment(dep_id)
        except ExternalToolError:
            detail = None
        except NotFoundError:
            # Its start was never recorded (the store failed then): nothing to close.
            return []
        if detail is not None:
            if detail.summary.outcome != RUNNING:
                return []
            started_at = detail.summary.started_at
            open_steps = [s for s in detail.steps if s.status == RUNNING]
        interrupted = open_steps[-1].name if open_steps else step
        rows: list[tuple[sa.Table, Mapping[str, Any]]] = []
        for number, record in enumerate(open_steps):
            rows.append(
                (
                    schema.deployment_events,
                    {
                        "id": closed_step_event_id(dep_id, record.index),
                        "deployment_id": dep_id,
                        "seq": RECOVERY_SEQ + number,
                        "at": now,
                        "kind": "step_finished",
                        "step": record.name,
                        "status": "interrupted",
                        "duration_ms": _ms(record.started_at, now),
                        "artifact_path": record.artifact_path,
                        "data": {
                            "index": record.index,
                            "error": "interrupted: the process running it died",
                        },
                    },
                )
            )
        payload: dict[str, Any] = dict(data or {})
        payload.update(
            {
                "interrupted_phase": phase,
                "interrupted_step": interrupted,
                "recovered_by": str(recovered_by) if recovered_by else None,
            }
        )
        if outcome == "interrupted":
            where = f" during step '{interrupted}'" if interrupted else ""
            payload.setdefault("error", f"interrupted{where} (phase {phase or '?'})")
        rows.append(
            (
                schema.deployment_events,
                {
                    "id": finished_event_id(dep_id),
                    "deployment_id": dep_id,
                    "seq": RECOVERY_SEQ + len(open_steps) + 1,
                    "at": now,
                    "kind": "finished",
                    "status": outcome,
                    "duration_ms": _ms(started_at, now) if started_at else None,
                    "data": payload,
                },
            )
        )
        self._write(rows)
        return [s.name for s in open_steps]

    def _previous_success(self, environment: str) -> uuid.UUID | None:
        if time.monotonic() < self._offline_until:
            return None
        try:
            found = self.history(environment, limit=1, outcome="succeeded")
        except ExternalToolError as exc:
            if self.spool is None:
                raise
            self._offline_until = time.monotonic() + self.offline_backoff_seconds
            self._last_error = exc.message
            return None
        return found[0].id if found else None

    def _capture_path(self, topic: str, name: str, started: datetime) -> Path:
        return self.layout.logs_dir(started, topic) / f"{slug(name)}.log"

    @contextlib.contextmanager
    def gate_run(
        self,
        gate: str,
        *,
        git_sha: str | None = None,
        build_id: uuid.UUID | None = None,
        environment: str | None = None,
        deployment_id: uuid.UUID | None = None,
    ) -> Iterator[GateCapture]:
        """Record a gate run around a block; its output becomes the gate's artifact.

        Status: what the block sets on the capture, else ``failed`` for a
        :class:`~odooplane.errors.CheckFailedError`, ``error`` for any other exception
        and ``passed`` otherwise.
        """
        started = self.now()
        run_id = uuid.uuid4()
        topic = f"gate-{gate}-{(git_sha or run_id.hex)[:8]}"
        path = self._capture_path(topic, gate, started)
        capture = GateCapture(gate, ArtifactWriter(path, self.redactor), self)
        status = "passed"
        try:
            yield capture
        except BaseException as exc:
            from odooplane.errors import CheckFailedError

            status = "failed" if isinstance(exc, CheckFailedError) else "error"
            capture.summary = capture.summary or capture._describe_exception(exc)
            raise
        finally:
            if capture.status is not None and status == "passed":
                status = capture.status
            sha, _size = capture.close()
            ended = self.now()
            self._write(
                [
                    (
                        schema.gate_runs,
                        {
                            "id": run_id,
                            "project": self.project_name,
                            "gate": gate,
                            "status": status,
                            "git_sha": git_sha,
                            "build_id": build_id,
                            "environment": environment,
                            "deployment_id": deployment_id,
                            "started_at": started,
                            "duration_ms": _ms(started, ended),
                            "summary": capture.summary or capture.error,
                            "details": capture.details,
                            "artifact_path": self.layout.to_record(path),
                            "artifact_sha256": sha,
                            "recorded_at": ended,
                        },
                    )
                ]
            )
            capture.record_id = run_id

    def record_gate_run(
        self,
        gate: str,
        status: str,
        *,
        git_sha: str | None = None,
        build_id: uuid.UUID | None = None,
        environment: str | None = None,
        deployment_id: uuid.UUID | None = None,
        summary: str | None = None,
        details: Mapping[str, Any] | None = None,
        output: str | None = None,
        started_at: datetime | None = None,
        duration_s: float | None = None,
    ) -> GateRunRecord:
        """Record a gate run that already happened (``output`` becomes its artifact)."""
        started = started_at or self.now()
        run_id = uuid.uuid4()
        artifact_path = artifact_sha = None
        if output is not None:
            topic = f"gate-{gate}-{(git_sha or run_id.hex)[:8]}"
            path = self._capture_path(topic, gate, started)
            path = _unique(path)
            artifact_sha, _ = write_artifact(path, output, self.redactor)
            artifact_path = self.layout.to_record(path)
        row = {
            "id": run_id,
            "project": self.project_name,
            "gate": gate,
            "status": status,
            "git_sha": git_sha,
            "build_id": build_id,
            "environment": environment,
            "deployment_id": deployment_id,
            "started_at": started,
            "duration_ms": None if duration_s is None else round(duration_s * 1000),
            "summary": summary,
            "details": dict(details) if details is not None else None,
            "artifact_path": artifact_path,
            "artifact_sha256": artifact_sha,
            "recorded_at": self.now(),
        }
        stored = self._write([(schema.gate_runs, row)])[0]
        return gate_run_from_row(stored)

    def gate_runs(self, git_sha: str, *, build_id: uuid.UUID | None = None) -> list[GateRunRecord]:
        """Gate runs recorded for a commit (and, given, that build), oldest first."""
        gr = schema.gate_runs
        query = sa.select(gr).where(gr.c.project == self.project_name, gr.c.git_sha == git_sha)
        if build_id is not None:
            query = query.where(gr.c.build_id == build_id)
        with self._read() as conn:
            rows = conn.execute(query.order_by(gr.c.started_at, gr.c.id)).mappings()
            return [gate_run_from_row(row) for row in rows]

    def record_neutralization(
        self,
        environment: str,
        database: str,
        *,
        status: str,
        source_database: str | None = None,
        rules: Sequence[Any] = (),
        verification: Mapping[str, Any] | None = None,
        output: str | None = None,
        started_at: datetime | None = None,
        duration_s: float | None = None,
    ) -> NeutralizationRecord:
        """Record a neutralization of ``database`` (rules applied, verification result)."""
        started = started_at or self.now()
        record_id = uuid.uuid4()
        artifact_path = artifact_sha = None
        if output is not None:
            topic = f"neutralize-{environment}-{record_id.hex[:8]}"
            path = self._capture_path(topic, "neutralize", started)
            artifact_sha, _ = write_artifact(path, output, self.redactor)
            artifact_path = self.layout.to_record(path)
        row = {
            "id": record_id,
            "project": self.project_name,
            "environment": environment,
            "database": database,
            "source_database": source_database,
            "status": status,
            "started_at": started,
            "duration_ms": None if duration_s is None else round(duration_s * 1000),
            "rules": list(rules),
            "verification": dict(verification) if verification is not None else None,
            "artifact_path": artifact_path,
            "artifact_sha256": artifact_sha,
            "recorded_at": self.now(),
        }
        stored = self._write([(schema.neutralizations, row)])[0]
        return neutralization_from_row(stored)

    # -- queries --------------------------------------------------------------------------

    def _summary_select(self) -> sa.Select[Any]:
        d = schema.deployments
        f = _FINISHED
        bi = schema.build_images
        # The image of the build as the deployment found it (a later rebuild of the
        # build's image is not what this deployment ran).
        image = (
            sa.select(bi.c.image_id)
            .where(bi.c.build_id == d.c.build_id, bi.c.recorded_at <= d.c.started_at)
            .order_by(bi.c.recorded_at.desc(), bi.c.id)
            .limit(1)
            .scalar_subquery()
        )
        return sa.select(
            d,
            f.c.status.label("outcome"),
            f.c.at.label("finished_at"),
            f.c.duration_ms.label("duration_ms"),
            image.label("image_id"),
        ).select_from(d.outerjoin(f, sa.and_(f.c.deployment_id == d.c.id, f.c.kind == "finished")))

    def history(
        self,
        environment: str | None = None,
        *,
        limit: int = 20,
        outcome: str | None = None,
    ) -> list[DeploymentSummary]:
        """The latest deployments, newest first (of one environment, or all)."""
        if limit < 1:
            raise UsageError(f"--limit must be at least 1 (got {limit}).")
        d = schema.deployments
        query = self._summary_select().where(d.c.project == self.project_name)
        if environment is not None:
            query = query.where(d.c.environment == environment)
        if outcome is not None:
            query = query.where(_FINISHED.c.status == outcome)
        query = query.order_by(d.c.started_at.desc(), d.c.id.desc()).limit(limit)
        with self._read() as conn:
            return [summary_from_row(row) for row in conn.execute(query).mappings()]

    def resolve(self, target: str) -> DeploymentSummary:
        """A deployment by id (or unique id prefix, 6+ hex digits), or the latest of an
        environment."""
        d = schema.deployments
        text = target.strip()
        with self._read() as conn:
            if _ID_PREFIX_RE.match(text):
                hexed = text.replace("-", "").lower()
                query = self._summary_select().where(d.c.project == self.project_name)
                if len(hexed) == 32:
                    query = query.where(d.c.id == uuid.UUID(hexed))
                else:
                    id_text = sa.func.replace(sa.cast(d.c.id, sa.String), "-", "")
                    query = query.where(id_text.like(f"{hexed}%"))
                rows = list(conn.execute(query.limit(2)).mappings())
                if len(rows) == 1:
                    return summary_from_row(rows[0])
                if len(rows) > 1:
                    raise UsageError(
                        f"'{target}' matches several deployments; give more of the id."
                    )
            query = (
                self._summary_select()
                .where(d.c.project == self.project_name, d.c.environment == text)
                .order_by(d.c.started_at.desc(), d.c.id.desc())
                .limit(1)
            )
            row = conn.execute(query).mappings().first()
            if row is not None:
                return summary_from_row(row)
        known = ", ".join(sorted(self.environments)) or "none configured"
        raise NotFoundError(
            f"No deployment with id '{target}' and no deployment of an environment named "
            f"'{target}' in the evidence store {self.location.display}.",
            hint=f"`odooplane history` lists deployments; environments: {known}.",
        )

    def deployment(self, target: str | uuid.UUID) -> DeploymentDetail:
        """Everything recorded about one deployment."""
        summary = self.resolve(str(target))
        ev = schema.deployment_events
        mig = schema.migrations
        gr = schema.gate_runs
        d = schema.deployments
        with self._read() as conn:
            events = [
                event_from_row(row)
                for row in conn.execute(
                    sa.select(ev).where(ev.c.deployment_id == summary.id).order_by(ev.c.seq)
                ).mappings()
            ]
            migrations = [
                MigrationRecord(
                    id=row["id"],
                    module=row["module"],
                    from_version=row["from_version"],
                    to_version=row["to_version"],
                    scripts=list(row["scripts"] or []),
                    status=row["status"],
                    started_at=row["started_at"],
                    duration_ms=row["duration_ms"],
                )
                for row in conn.execute(
                    sa.select(mig)
                    .where(mig.c.deployment_id == summary.id)
                    .order_by(mig.c.started_at, mig.c.module)
                ).mappings()
            ]
            build = None
            if summary.build_id is not None:
                build_row = (
                    conn.execute(
                        sa.select(schema.builds).where(schema.builds.c.id == summary.build_id)
                    )
                    .mappings()
                    .first()
                )
                build = BuildRecord(**build_row) if build_row is not None else None
            gate_filter = [gr.c.deployment_id == summary.id, gr.c.git_sha == summary.git_sha]
            if summary.build_id is not None:
                gate_filter.append(gr.c.build_id == summary.build_id)
            gates = [
                gate_run_from_row(row)
                for row in conn.execute(
                    sa.select(gr)
                    .where(gr.c.project == self.project_name, sa.or_(*gate_filter))
                    .order_by(gr.c.started_at)
                ).mappings()
            ]
            rollbacks = [
                summary_from_row(row)
                for row in conn.execute(
                    self._summary_select()
                    .where(d.c.project == self.project_name, d.c.rollback_of == summary.id)
                    .order_by(d.c.started_at)
                ).mappings()
            ]
            bi = schema.build_images
            images = (
                [
                    BuildImageRecord(**row)
                    for row in conn.execute(
                        sa.select(bi)
                        .where(bi.c.build_id == summary.build_id)
                        .order_by(bi.c.recorded_at, bi.c.id)
                    ).mappings()
                ]
                if summary.build_id is not None
                else []
            )
        finished = next((e for e in events if e.kind == "finished"), None)
        return DeploymentDetail(
            summary=summary,
            build=build,
            steps=steps_from_events(events),
            events=events,
            migrations=migrations,
            health_checks=[
                HealthCheckRecord(
                    name=e.step or "",
                    status=e.status or "",
                    at=e.at,
                    detail=(e.data or {}).get("detail"),
                    duration_ms=e.duration_ms,
                )
                for e in events
                if e.kind == "health_check"
            ],
            gate_runs=gates,
            result=dict(finished.data or {}) if finished is not None else {},
            rollbacks=rollbacks,
            images=images,
        )

    def step_logs(self, detail: DeploymentDetail, step: str | None = None) -> list[StepLog]:
        """The artifacts of a deployment's steps (all, or those named ``step``)."""
        steps = detail.steps
        if step is not None:
            steps = [s for s in steps if s.name == step or slug(s.name) == step]
            if not steps:
                names = ", ".join(s.name for s in detail.steps) or "none"
                raise NotFoundError(
                    f"Deployment {detail.summary.short_id} has no step named '{step}'.",
                    hint=f"Its steps: {names}.",
                )
        result = []
        for record in steps:
            path = self.layout.from_record(record.artifact_path) if record.artifact_path else None
            text = read_artifact(path) if path is not None else None
            verified: bool | None = None
            if text is not None and path is not None and record.artifact_sha256:
                verified = sha256_of(path) == record.artifact_sha256
            result.append(StepLog(step=record, path=path, text=text, verified=verified))
        return result

    def logs(
        self, target: str, *, step: str | None = None
    ) -> tuple[DeploymentDetail, list[StepLog]]:
        """A deployment (by id, prefix, or environment's latest) and its step logs."""
        detail = self.deployment(target)
        return detail, self.step_logs(detail, step)

    def follow(
        self,
        target: str,
        *,
        step: str | None = None,
        poll_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Iterator[str]:
        """Yield log text of a deployment as it is written, until its outcome is recorded."""
        deployment_id = self.resolve(target).id
        offsets: dict[int, int] = {}
        announced: set[int] = set()
        while True:
            detail = self.deployment(deployment_id)
            done = detail.summary.outcome != RUNNING
            for record in detail.steps:
                if step is not None and step not in (record.name, slug(record.name)):
                    continue
                if record.index not in announced:
                    announced.add(record.index)
                    yield f"==> {record.name} <==\n"
                if record.artifact_path is None:
                    continue
                path = self.layout.from_record(record.artifact_path)
                text = read_artifact(path, start=offsets.get(record.index, 0))
                if text:
                    offsets[record.index] = offsets.get(record.index, 0) + len(text.encode("utf-8"))
                    yield text
            if done:
                yield f"==> outcome: {detail.summary.outcome} <==\n"
                return
            sleep(poll_seconds)

    def status(self) -> StoreStatus:
        waiting = self.spool or self.local_spool
        spooled = waiting.pending_rows() if waiting is not None else 0
        try:
            revision = self.revision()
            reachable, error = True, None
        except sa.exc.DBAPIError as exc:
            if not _is_unreachable(exc):
                raise
            revision, reachable, error = None, False, _error_line(exc)
        return StoreStatus(
            backend=self.location.backend,
            location=self.location.display,
            revision=revision,
            head=schema.HEAD_REVISION,
            reachable=reachable,
            spooled_rows=spooled,
            artifacts_root=str(self.layout.root),
            error=error,
        )


class GateCapture(OutputCapture):
    """Output of a gate run, plus what the gate concluded."""

    summary: str | None = None
    details: dict[str, Any] | None = None
    record_id: uuid.UUID | None = None


def _unique(path: Path) -> Path:
    candidate = path
    number = 2
    while candidate.exists() or Path(f"{candidate}.gz").exists():
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
        number += 1
    return candidate
