"""An OCI image per build, in three layers that change at three speeds.

1. **runtime** (``odooplane/runtime:<dependencies hash>``): the base image (a Debian
   bookworm by default), the system libraries Odoo's packages load, the unprivileged
   ``odoo`` user, ``tini`` and the Python virtual environment with exactly the packages
   the build's runtime holds. Shared by every build, of every project, with the same
   dependencies hash: it is built once.
2. **odoo** (``odooplane/odoo:<series>-<revision>-<dependencies hash>``): the Odoo source
   tree on top of it; shared by every build on the same Odoo revision.
3. **build** (``odooplane/<project>:<sha>``): the project's code at the build's commit,
   a few megabytes; labels carry the git SHA, the Odoo revision and the dependencies hash.

Each layer is looked up by its tag and its labels before anything is built: an
unchanged build is a cache hit that sends nothing to the engine. A layer whose inputs
changed (a new base image, another revision) is rebuilt, and the engine's own layer
cache keeps that cheap. The image runs Odoo as ``odoo`` (uid 10001) under ``tini``, so
signals reach it; its configuration, secrets and filestore are mounted at run time,
never baked in.

Packages are installed inside the image from the package index (the host's extra CA
certificates, from ``/usr/local/share/ca-certificates``, are given to the build stage
only, for HTTPS through an intercepting proxy), with the pins of the build's runtime, so
the container runs the same versions as a local environment of the same build. The pins
were resolved for the host's Python; the image's may be an older patch release of the
same minor version (Debian's 3.11.2), which some releases exclude by ``Requires-Python``
(``>=3.11.5``) although they run: the minor version is checked, the patch is not.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import Any

from odooplane.containers.engine import ContextFile, ContextItem, ContextTree, Docker
from odooplane.environments.builds import Build, builds_dir, runtime_of
from odooplane.errors import ConfigError, ExternalToolError
from odooplane.fsutil import read_json, write_json_atomic
from odooplane.project import Project

DEFAULT_BASE_IMAGE = "odooplane/debian:bookworm"
# Bump when the Dockerfiles below change in a way the engine's cache cannot see.
RECIPE = "1"
LABEL_PREFIX = "org.odooplane."
ODOO_UID = 10001

# Where things are inside the image (and so in every container of it).
VENV = PurePosixPath("/opt/odoo/venv")
ODOO_SRC = PurePosixPath("/opt/odoo/src")
PROJECT_CODE = PurePosixPath("/opt/odoo/project")
CONF_PATH = PurePosixPath("/etc/odoo/odoo.conf")
DATA_DIR = PurePosixPath("/var/lib/odoo")
ENV_FILE = PurePosixPath("/run/odooplane/env.json")
HTTP_PORT = 8069
GEVENT_PORT = 8072

# System libraries the compiled packages of Odoo's requirements load at run time, and
# the headers and compilers the build stage needs to compile the ones without wheels.
RUNTIME_PACKAGES = (
    "python3",
    "ca-certificates",
    "tini",
    "libpq5",
    "libldap-2.5-0",
    "libsasl2-2",
    "libmagic1",
    "fonts-dejavu-core",
)
BUILD_PACKAGES = (
    "python3",
    "python3-venv",
    "python3-dev",
    "build-essential",
    "ca-certificates",
    "libpq-dev",
    "libldap2-dev",
    "libsasl2-dev",
)
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")

ENTRYPOINT = f'''#!/usr/bin/python3
"""odooplane's entrypoint: load the environment's variables (a JSON object mounted
read-only, so secrets stay out of the container's configuration), then run the
command, Odoo's server by default."""
import json
import os
import sys

path = os.environ.get("ODOOPLANE_ENV_FILE", "{ENV_FILE}")
if os.path.isfile(path):
    with open(path, encoding="utf-8") as fh:
        os.environ.update({{str(k): str(v) for k, v in json.load(fh).items()}})
argv = sys.argv[1:] or ["{VENV}/bin/python", "{ODOO_SRC}/odoo-bin", "-c", "{CONF_PATH}"]
os.execvp(argv[0], argv)
'''

HEALTHCHECK = (
    f'{VENV}/bin/python -c "import urllib.request; '
    f"urllib.request.urlopen('http://127.0.0.1:{HTTP_PORT}/web/health', timeout=5)\""
)


@dataclass
class LayerImage:
    """One of the three images of a build."""

    role: str  # runtime, odoo, build
    tag: str
    image_id: str
    cached: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BuildImage:
    """The image of a build, and how it was obtained."""

    sha: str
    tag: str
    image_id: str
    base_image: str
    base_image_id: str
    labels: dict[str, str]
    layers: list[LayerImage] = field(default_factory=list)
    size_bytes: int = 0
    seconds: float = 0.0
    log_path: str = ""

    @property
    def cached(self) -> bool:
        """Nothing was built: every layer was found as it was."""
        return all(layer.cached for layer in self.layers)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cached"] = self.cached
        return data


def slug(name: str) -> str:
    """A name Docker accepts in a repository path (lowercase, no leading punctuation)."""
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("._-")
    return cleaned or "project"


def image_tag(project: Project, b: Build) -> str:
    return f"odooplane/{slug(project.config.project)}:{b.sha[:12]}"


def runtime_tag(b: Build) -> str:
    return f"odooplane/runtime:{b.deps_hash}"


def odoo_tag(b: Build) -> str:
    return f"odooplane/odoo:{slug(b.odoo_series)}-{b.odoo_revision[:12]}-{b.deps_hash}"


def build_labels(project: Project, b: Build) -> dict[str, str]:
    """The labels of a build's image. Nothing that changes without the content changing
    (branch, time) is a label: it would change the image id."""
    return {
        f"{LABEL_PREFIX}project": project.config.project,
        f"{LABEL_PREFIX}git-sha": b.sha,
        f"{LABEL_PREFIX}odoo-series": b.odoo_series,
        f"{LABEL_PREFIX}odoo-revision": b.odoo_revision,
        f"{LABEL_PREFIX}deps-hash": b.deps_hash,
        f"{LABEL_PREFIX}project-subdir": b.project_subdir,
        "org.opencontainers.image.revision": b.sha,
        "org.opencontainers.image.title": project.config.project,
    }


def container_path(b: Build, host_path: Path | str) -> PurePosixPath:
    """Where a file of the build (its code or its Odoo source) is inside the image."""
    path = Path(host_path)
    for host_root, image_root in ((Path(b.code_dir), PROJECT_CODE), (Path(b.odoo_path), ODOO_SRC)):
        try:
            return image_root / path.relative_to(host_root).as_posix()
        except ValueError:
            continue
    raise ConfigError(
        f"{path} is neither in build {b.short}'s code nor in its Odoo source, so it is not "
        "in the build's image.",
        hint="Keep every addons folder inside the repository.",
    )


def conf_of(argv: Sequence[str]) -> Path:
    """The odoo.conf an Odoo command line names (``-c PATH`` or ``--config=PATH``)."""
    for index, arg in enumerate(argv):
        if arg == "-c" and index + 1 < len(argv):
            return Path(argv[index + 1])
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1])
    raise ConfigError(f"The Odoo command {' '.join(argv[:3])}... names no odoo.conf.")


def inner_argv(argv: Sequence[str], b: Build) -> list[str]:
    """A command line of this machine (the build's runtime, its Odoo source and code,
    the environment's odoo.conf) with the image's paths."""
    from odooplane.environments import builds  # looked up now: tests stand in for it

    python = str(builds.runtime_of(b).python)
    conf = str(conf_of(argv))
    inner: list[str] = []
    for arg in argv:
        if arg == python:
            inner.append(f"{VENV}/bin/python")
        elif arg == conf:
            inner.append(str(CONF_PATH))
        elif arg.startswith(("/", "--config=")) and (
            arg.startswith(b.odoo_path) or arg.startswith(b.code_dir)
        ):
            inner.append(str(container_path(b, arg)))
        else:
            inner.append(arg)
    return inner


def image_record_path(project: Project, sha: str) -> Path:
    return builds_dir(project) / sha / "image.json"


def recorded_image(project: Project, sha: str) -> BuildImage | None:
    """The image last made for build ``sha`` on this machine (None: none was)."""
    data = read_json(image_record_path(project, sha))
    if not isinstance(data, dict) or not data.get("image_id"):
        return None
    known = {f.name for f in fields(BuildImage)}
    values = {k: v for k, v in data.items() if k in known}
    values["layers"] = [LayerImage(**layer) for layer in values.get("layers") or []]
    return BuildImage(**values)


# -- Dockerfiles ---------------------------------------------------------------------


def _apt(packages: Sequence[str]) -> str:
    return (
        "RUN apt-get update \\\n"
        " && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\\n"
        f"      {' '.join(packages)} \\\n"
        " && rm -rf /var/lib/apt/lists/*\n"
    )


def runtime_dockerfile(
    base_image: str, python: str, *, no_deps: bool, extra_packages: Sequence[str] = ()
) -> str:
    deps = " --no-deps" if no_deps else ""
    check = (
        "import sys; v = '%d.%d' % sys.version_info[:2]; "
        f"sys.exit(0 if v == '{python}' else 'The base image has Python ' + v + "
        f"', the build runtime was resolved for Python {python}: use a base image with "
        f"Python {python}, or set odoo.python to ' + v + '.')"
    )
    return (
        f"FROM {base_image} AS build\n"
        # Named so the stage (kept by the engine as the cache of the next build) can be
        # found: `docker image prune --filter label=org.odooplane.stage=build`.
        f"LABEL {LABEL_PREFIX}stage=build\n"
        + _apt(BUILD_PACKAGES)
        + "COPY ca/ /usr/local/share/ca-certificates/\n"
        "RUN update-ca-certificates >/dev/null 2>&1\n"
        f'RUN python3 -c "{check}"\n'
        "COPY requirements.txt /tmp/requirements.txt\n"
        f"RUN python3 -m venv {VENV} \\\n"
        f" && PIP_CERT=/etc/ssl/certs/ca-certificates.crt {VENV}/bin/pip install --no-cache-dir"
        f" --disable-pip-version-check --no-input --ignore-requires-python{deps}"
        " -r /tmp/requirements.txt \\\n"
        f" && find {VENV} -name __pycache__ -prune -exec rm -rf {{}} +\n"
        "\n"
        f"FROM {base_image}\n"
        + _apt([*RUNTIME_PACKAGES, *extra_packages])
        + f"RUN groupadd --system --gid {ODOO_UID} odoo \\\n"
        f" && useradd --system --uid {ODOO_UID} --gid odoo --home-dir {DATA_DIR} "
        "--shell /usr/sbin/nologin odoo \\\n"
        f" && install -d -o odoo -g odoo -m 0750 {DATA_DIR} {DATA_DIR}/sessions"
        f" {DATA_DIR}/filestore \\\n"
        f" && install -d -m 0755 {CONF_PATH.parent} {ENV_FILE.parent}\n"
        f"COPY --from=build {VENV} {VENV}\n"
        "COPY entrypoint.py /usr/local/bin/odooplane-entrypoint\n"
        "ENV LANG=C.UTF-8 PYTHONUNBUFFERED=1 "
        f"PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    )


def odoo_dockerfile(runtime_image: str) -> str:
    return f"FROM {runtime_image}\nCOPY odoo/ {ODOO_SRC}/\n"


def build_dockerfile(odoo_image: str) -> str:
    return (
        f"FROM {odoo_image}\n"
        f"COPY project/ {PROJECT_CODE}/\n"
        "USER odoo\n"
        f"WORKDIR {DATA_DIR}\n"
        f"EXPOSE {HTTP_PORT} {GEVENT_PORT}\n"
        f"HEALTHCHECK --interval=30s --timeout=10s --start-period=60s CMD {HEALTHCHECK}\n"
        'ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/odooplane-entrypoint"]\n'
        f'CMD ["{VENV}/bin/python", "{ODOO_SRC}/odoo-bin", "-c", "{CONF_PATH}"]\n'
    )


def _requirements(b: Build) -> tuple[str, str, bool]:
    """(requirements.txt, Python major.minor, whether the lines are full pins)."""
    runtime = runtime_of(b)
    meta = dict(runtime.metadata)
    lines = [str(p) for p in meta.get("packages", [])]
    for line in lines:
        text = line.removeprefix("-e ").strip()
        if text.startswith(("/", ".", "file:")):
            raise ConfigError(
                f"Build {b.short} installs {line!r}, a local path, which an image cannot reach.",
                hint="Publish the package to an index, or name it by git URL or version.",
            )
    match = re.search(r"-(\d+\.\d+)-", str(meta.get("python_tag", "")))
    if match is None:
        raise ExternalToolError(f"The runtime {runtime.path} does not say its Python version.")
    return "\n".join(lines) + "\n", match.group(1), meta.get("installer") == "uv"


def ca_files() -> list[ContextFile]:
    """The host's extra CA certificates, for HTTPS from a build stage (through a proxy)."""
    files = [ContextFile("ca/.keep", data=b"")]
    if HOST_CA_DIR.is_dir():
        for path in sorted(HOST_CA_DIR.rglob("*.crt")):
            if path.is_file():
                files.append(ContextFile(f"ca/{path.name}", source=path))
    return files


def _skip_source(rel: Path) -> bool:
    return rel.name in (".git", "__pycache__", ".odooplane") or rel.suffix == ".pyc"


# -- building ------------------------------------------------------------------------


class _Layers:
    def __init__(self, docker: Docker, log: Path, on_line: Callable[[str], None] | None) -> None:
        self.docker = docker
        self.log = log
        self.on_line = on_line
        self.layers: list[LayerImage] = []

    def ensure(
        self,
        role: str,
        tag: str,
        labels: Mapping[str, str],
        items: Callable[[], Sequence[ContextItem]],
        *,
        rebuild: bool,
    ) -> str:
        started = time.monotonic()
        found = None if rebuild else self.docker.image(tag)
        have = ((found or {}).get("Config") or {}).get("Labels") or {}
        if found is not None and all(have.get(k) == v for k, v in labels.items()):
            image_id = str(found["Id"])
            self.layers.append(LayerImage(role, tag, image_id, True, 0.0))
            return image_id

        def line(text: str) -> None:
            with self.log.open("a", encoding="utf-8") as fh:
                fh.write(text + "\n")
            if self.on_line is not None:
                self.on_line(f"[{role}] {text}")

        line(f"== {role} layer {tag}")
        image_id, _ = self.docker.build(items(), tag=tag, labels=labels, on_line=line)
        seconds = round(time.monotonic() - started, 2)
        self.layers.append(LayerImage(role, tag, image_id, False, seconds))
        return image_id


def build_image(
    project: Project,
    b: Build,
    *,
    docker: Docker | None = None,
    base_image: str = DEFAULT_BASE_IMAGE,
    extra_packages: Sequence[str] = (),
    rebuild: bool = False,
    on_line: Callable[[str], None] | None = None,
) -> BuildImage:
    """The image of build ``b``: found as it was (a cache hit), or built layer by layer.

    ``on_line`` receives the builder's output as it comes; it is also kept in
    ``<state>/builds/<sha>/image-build.log``.
    """
    started = time.monotonic()
    engine = docker or Docker()
    base = engine.image(base_image)
    if base is None:
        raise ExternalToolError(
            f"The base image {base_image} is not in the Docker engine.",
            hint="`bash .ci/setup-docker` makes odooplane/debian:bookworm with debootstrap; "
            "or `docker pull` / `docker import` the image you named.",
        )
    base_id = str(base["Id"])
    folder = builds_dir(project) / b.sha
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "image-build.log"
    log.write_text("")
    layers = _Layers(engine, log, on_line)
    requirements, python, pinned = _requirements(b)
    packages = sorted(set(extra_packages))
    common = {f"{LABEL_PREFIX}recipe": RECIPE, f"{LABEL_PREFIX}deps-hash": b.deps_hash}
    runtime_labels = {
        **common,
        f"{LABEL_PREFIX}layer": "runtime",
        f"{LABEL_PREFIX}base-image": base_id,
        f"{LABEL_PREFIX}python": python,
        f"{LABEL_PREFIX}extra-packages": " ".join(packages),
    }
    runtime_id = layers.ensure(
        "runtime",
        runtime_tag(b),
        runtime_labels,
        lambda: [
            ContextFile(
                "Dockerfile",
                data=runtime_dockerfile(
                    base_image, python, no_deps=pinned, extra_packages=packages
                ).encode(),
            ),
            ContextFile("requirements.txt", data=requirements.encode()),
            ContextFile("entrypoint.py", data=ENTRYPOINT.encode(), mode=0o755),
            *ca_files(),
        ],
        rebuild=rebuild,
    )
    odoo_labels = {
        **common,
        f"{LABEL_PREFIX}layer": "odoo",
        f"{LABEL_PREFIX}runtime-image": runtime_id,
        f"{LABEL_PREFIX}odoo-series": b.odoo_series,
        f"{LABEL_PREFIX}odoo-revision": b.odoo_revision,
    }
    odoo_id = layers.ensure(
        "odoo",
        odoo_tag(b),
        odoo_labels,
        lambda: [
            ContextFile("Dockerfile", data=odoo_dockerfile(runtime_id).encode()),
            ContextTree("odoo", Path(b.odoo_path), _skip_source),
        ],
        rebuild=rebuild,
    )
    labels = {
        **build_labels(project, b),
        f"{LABEL_PREFIX}recipe": RECIPE,
        f"{LABEL_PREFIX}layer": "build",
        f"{LABEL_PREFIX}odoo-image": odoo_id,
    }
    tag = image_tag(project, b)
    image_id = layers.ensure(
        "build",
        tag,
        labels,
        lambda: [
            ContextFile("Dockerfile", data=build_dockerfile(odoo_id).encode()),
            ContextTree("project", Path(b.code_dir), _skip_source),
        ],
        rebuild=rebuild,
    )
    final = engine.image(image_id) or {}
    result = BuildImage(
        sha=b.sha,
        tag=tag,
        image_id=image_id,
        base_image=base_image,
        base_image_id=base_id,
        labels=labels,
        layers=layers.layers,
        size_bytes=int(final.get("Size") or 0),
        seconds=round(time.monotonic() - started, 2),
        log_path=str(log),
    )
    write_json_atomic(image_record_path(project, b.sha), result.to_dict())
    return result
