"""Where odooplane keeps things.

Two places only: the project's state folder (``<project>/.odooplane``, never committed)
and the user's cache (``$ODOOPLANE_CACHE_DIR`` or ``$XDG_CACHE_HOME/odooplane``) for what
is shared between projects: Odoo source clones, Python runtimes, crash logs.
"""

from __future__ import annotations

import os
from pathlib import Path

from odooplane.errors import UsageError

STATE_DIRNAME = ".odooplane"
CONFIG_FILENAME = "odooplane.yaml"

# Set by the test suite: resolving the real cache while it is set is a bug in a test.
FORBID_ENV = "ODOOPLANE_FORBID_REAL_STATE"


def cache_dir() -> Path:
    """The per-user cache folder (created on demand by callers)."""
    explicit = os.environ.get("ODOOPLANE_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    if os.environ.get(FORBID_ENV):
        raise UsageError(
            "The real odooplane cache was about to be used while "
            f"{FORBID_ENV} is set; set ODOOPLANE_CACHE_DIR to a temporary folder."
        )
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser().resolve() / "odooplane"


def state_dir(project_root: Path) -> Path:
    """The project's state folder."""
    return project_root / STATE_DIRNAME


def find_project_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding odooplane.yaml."""
    here = start.resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_FILENAME).is_file():
            return candidate
    return None


# A unix socket path must fit in sockaddr_un (108 bytes with the final NUL).
MAX_SOCKET_PATH = 100


def socket_path(preferred: Path, tag: str) -> Path:
    """``preferred`` when it fits a unix socket address, else a short per-user stand-in.

    Deep project folders (test runs, CI checkouts) give socket paths longer than the
    kernel accepts; the stand-in is derived from the preferred path, so it is stable.
    """
    if len(str(preferred)) <= MAX_SOCKET_PATH:
        return preferred
    import hashlib

    digest = hashlib.sha256(str(preferred.parent.resolve()).encode()).hexdigest()[:16]
    runtime = Path(os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/odooplane-{os.getuid()}")
    return runtime / f"{tag}-{digest}.sock"
