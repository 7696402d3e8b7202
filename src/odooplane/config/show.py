"""Showing a configuration: secrets masked, each environment resolved."""

from __future__ import annotations

import re
from typing import Any

from odooplane.config.interpolation import MASK
from odooplane.config.issues import KeyPath
from odooplane.config.loader import LoadedConfig
from odooplane.config.schema import branch_patterns


def mask_url_password(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:****@host/db``."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://[^:/@]*):[^@/]*@", rf"\1:{MASK}@", url)


def _set_at(data: Any, path: KeyPath, value: Any) -> None:
    container = data
    for part in path[:-1]:
        try:
            container = container[part]
        except (KeyError, IndexError, TypeError):
            return
    try:
        if path and (path[-1] in container if isinstance(container, dict) else True):
            container[path[-1]] = value
    except (IndexError, TypeError):
        return


def redacted_dump(loaded: LoadedConfig) -> dict[str, Any]:
    """The effective configuration (defaults filled in) with secrets masked."""
    dumped: dict[str, Any] = loaded.config.model_dump(mode="json", by_alias=True)
    for path, masked in loaded.masked.items():
        _set_at(dumped, path, masked)
    dumped["database"]["server"] = mask_url_password(str(dumped["database"]["server"]))
    dumped["evidence"]["url"] = mask_url_password(str(dumped["evidence"]["url"]))
    return dumped


def environment_summary(loaded: LoadedConfig) -> dict[str, dict[str, Any]]:
    """What each environment resolves to: database, branches, neutralization, env file."""
    config = loaded.config
    out: dict[str, dict[str, Any]] = {}
    for name, env in config.environments.items():
        data: Any = env.data
        out[name] = {
            "kind": env.kind.value,
            "branches": branch_patterns(config, name),
            "database": config.database_name(name),
            "data": data if isinstance(data, str) else {"copy": data.copy_},
            "neutralized": env.neutralized,
            "url": loaded.masked.get(("environments", name, "url"), env.url),
            "workers": env.workers,
            "env_file": str(loaded.env_files[name]) if name in loaded.env_files else None,
        }
    return out
