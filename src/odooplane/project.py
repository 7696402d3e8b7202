"""A loaded project: its root folder, its configuration and where its state lives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from odooplane.config import EnvironmentConfig, ProjectConfig, load_config
from odooplane.errors import ConfigError, NotFoundError
from odooplane.paths import CONFIG_FILENAME, find_project_root, state_dir


@dataclass(frozen=True)
class Project:
    root: Path
    config: ProjectConfig

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILENAME

    @property
    def state_dir(self) -> Path:
        return state_dir(self.root)

    @property
    def odoo_data_dir(self) -> Path:
        """Odoo's ``data_dir``: filestores live in ``<this>/filestore/<database>``."""
        return self.state_dir / "odoo-data"

    def filestore_dir(self, database: str) -> Path:
        return self.odoo_data_dir / "filestore" / database

    def environment(self, name: str) -> EnvironmentConfig:
        found = self.config.environments.get(name)
        if found is not None:
            return found
        # Pull-request environments are not in odooplane.yaml: their definition comes
        # from the previews section and their record in the state folder.
        from odooplane.previews.records import preview_environment

        preview = preview_environment(self, name)
        if preview is not None:
            return preview
        known = ", ".join(sorted(self.config.environments)) or "none"
        raise NotFoundError(
            f"No environment named '{name}' in {self.config_path}.",
            hint=f"Known environments: {known}.",
        )


def load_project(start: Path) -> Project:
    """Find odooplane.yaml at or above ``start`` and load it."""
    root = find_project_root(start)
    if root is None:
        raise ConfigError(
            f"No {CONFIG_FILENAME} in {start} or any folder above it.",
            hint="Run `odooplane init` in your addons repository, or pass -C PROJECT_DIR.",
        )
    return Project(root=root, config=load_config(root / CONFIG_FILENAME))
