"""What odooplane knows about each preview, and the environment definition it implies.

A preview is an environment of kind ``preview`` that odooplane.yaml does not list: its
definition comes from the ``previews`` section and its record,
``<state>/previews/<name>.json`` (pull request, branch, URL, pinned, closed). With data
from staging, every preview is a copy of one more environment, the *preview base*
(``preview-base``): a copy of staging neutralized and verified once per refresh, never
started, never routed.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from odooplane.config import CopyPolicy, EnvironmentConfig, EnvironmentKind, ProjectConfig
from odooplane.errors import ConfigError
from odooplane.fsutil import read_json, write_json_atomic

BASE_NAME = "preview-base"
BASE_FILE = "_base.json"


def previews_dir(state_dir: Path) -> Path:
    return state_dir / "previews"


@dataclass
class PreviewRecord:
    name: str
    pr: int
    branch: str
    title: str | None
    ref: str
    data: str  # staging | demo | fresh
    url: str
    hostname: str | None
    public_port: int
    created_at: str
    updated_at: str
    pinned: bool = False
    closed_at: str | None = None
    build: str | None = None
    stopped_at: str | None = None
    stopped_reason: str | None = None
    woken_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreviewRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class PreviewStore:
    def __init__(self, state_dir: Path) -> None:
        self.dir = previews_dir(state_dir)

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.json"

    def load(self, name: str) -> PreviewRecord | None:
        try:
            data = read_json(self.path(name))
        except ValueError as exc:
            raise ConfigError(f"{self.path(name)} is not valid JSON ({exc}).") from None
        return PreviewRecord.from_dict(data) if isinstance(data, dict) else None

    def save(self, record: PreviewRecord) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path(record.name), record.to_dict())

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def all(self) -> list[PreviewRecord]:
        if not self.dir.is_dir():
            return []
        found = []
        for path in sorted(self.dir.glob("pr-*.json")):
            record = self.load(path.stem)
            if record is not None:
                found.append(record)
        return found

    def by_pr(self, pr: int) -> PreviewRecord | None:
        return next((r for r in self.all() if r.pr == pr), None)

    # -- the base -------------------------------------------------------------------------

    @property
    def base_path(self) -> Path:
        return self.dir / BASE_FILE

    def base_info(self) -> dict[str, Any] | None:
        data = read_json(self.base_path, default=None)
        return data if isinstance(data, dict) else None

    def save_base_info(self, info: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.base_path, info)

    def delete_base_info(self) -> None:
        self.base_path.unlink(missing_ok=True)


def staging_source(config: ProjectConfig) -> str | None:
    """The environment previews copy (through the base), or None for fresh databases."""
    data = config.previews.data
    if isinstance(data, CopyPolicy):
        return data.copy_
    if data is None:
        return next(
            (n for n, e in config.environments.items() if e.kind is EnvironmentKind.staging),
            None,
        )
    return None


def data_mode(config: ProjectConfig) -> str:
    """``staging`` (clone of the base), ``demo`` or ``fresh``."""
    if staging_source(config) is not None:
        return "staging"
    data = config.previews.data
    return data if isinstance(data, str) else "demo"


def preview_environment(project: Any, name: str) -> EnvironmentConfig | None:
    """The definition of preview ``name`` (or of the base), None when it is neither."""
    config: ProjectConfig = project.config
    store = PreviewStore(project.state_dir)
    previews = config.previews
    if name == BASE_NAME:
        source = staging_source(config)
        if source is None or source not in config.environments:
            return None
        return EnvironmentConfig.model_validate(
            {
                "kind": "preview",
                "backend": config.previews.backend,
                "data": {"copy": source},
                "neutralize": True,
                "modules": list(config.environments[source].modules),
            }
        )
    if not name.startswith("pr-") or os.sep in name:
        return None
    record = store.load(name)
    if record is None:
        return None
    source = staging_source(config)
    modules = list(previews.modules)
    if record.data == "staging" and source in config.environments:
        modules = modules or list(config.environments[source].modules)
    return EnvironmentConfig.model_validate(
        {
            "kind": "preview",
            "backend": previews.backend,
            "data": {"copy": BASE_NAME} if record.data == "staging" else record.data,
            "neutralize": True,
            "url": record.url,
            "workers": previews.workers,
            "modules": modules,
        }
    )
