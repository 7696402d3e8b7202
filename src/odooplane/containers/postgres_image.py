"""A PostgreSQL server image made from the base image and Debian's packages.

Used where an environment's database server is a container (a Compose export that runs
without odooplane, or ``database.server: container``): ``odooplane/postgres:<major>``. On
its first start with an empty data volume it runs ``initdb`` with the superuser
``POSTGRES_USER`` (default ``postgres``) and its password from ``POSTGRES_PASSWORD_FILE``
(a mounted secret) or ``POSTGRES_PASSWORD``, and creates the role ``ODOO_DB_USER``
(password ``ODOO_DB_PASSWORD[_FILE]``, may create databases) that Odoo connects as;
connections over the network need a password (scram-sha-256). It runs as ``postgres``
under tini. The image carries the digest of its recipe (Dockerfile and entrypoint) as
a label: a changed recipe is rebuilt.
"""

from __future__ import annotations

import hashlib

from odooplane.containers.engine import ContextFile, Docker
from odooplane.containers.images import DEFAULT_BASE_IMAGE, LABEL_PREFIX, RECIPE
from odooplane.errors import ExternalToolError

MAJOR = "15"  # Debian bookworm's
DATA = "/var/lib/postgresql/data"

ENTRYPOINT = r"""#!/bin/sh
# odooplane's PostgreSQL entrypoint: initialize an empty data folder once, then serve.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  password="${POSTGRES_PASSWORD:-}"
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    password=$(cat "$POSTGRES_PASSWORD_FILE")
  fi
  if [ -z "$password" ]; then
    echo "odooplane-postgres: set POSTGRES_PASSWORD_FILE or POSTGRES_PASSWORD" >&2
    exit 2
  fi
  pwfile=$(mktemp)
  printf '%s\n' "$password" > "$pwfile"
  initdb --username="${POSTGRES_USER:-postgres}" --pwfile="$pwfile" --auth-local=peer \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  # The role Odoo connects as: never the superuser (Odoo refuses `postgres` anyway).
  if [ -n "${ODOO_DB_USER:-}" ]; then
    odoo_password="${ODOO_DB_PASSWORD:-}"
    if [ -n "${ODOO_DB_PASSWORD_FILE:-}" ]; then
      odoo_password=$(cat "$ODOO_DB_PASSWORD_FILE")
    fi
    quoted=$(printf '%s' "$odoo_password" | sed "s/'/''/g")
    echo "CREATE ROLE \"$ODOO_DB_USER\" LOGIN CREATEDB PASSWORD '$quoted';" \
      | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.auto.conf"
fi
exec postgres "$@"
"""


def postgres_dockerfile(base_image: str) -> str:
    return (
        f"FROM {base_image}\n"
        "RUN apt-get update \\\n"
        " && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\\n"
        f"      postgresql-{MAJOR} tini \\\n"
        " && rm -rf /var/lib/apt/lists/* \\\n"
        f" && install -d -o postgres -g postgres -m 0700 {DATA} \\\n"
        " && install -d -o postgres -g postgres -m 0775 /var/run/postgresql\n"
        "COPY entrypoint.sh /usr/local/bin/odooplane-postgres\n"
        f"ENV PATH=/usr/lib/postgresql/{MAJOR}/bin:/usr/local/sbin:/usr/local/bin:"
        f"/usr/sbin:/usr/bin:/sbin:/bin PGDATA={DATA} LANG=C.UTF-8\n"
        "USER postgres\n"
        "EXPOSE 5432\n"
        "HEALTHCHECK --interval=5s --timeout=5s --retries=30 CMD pg_isready -q -h 127.0.0.1\n"
        'ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/odooplane-postgres"]\n'
    )


def postgres_tag() -> str:
    return f"odooplane/postgres:{MAJOR}"


def ensure_postgres_image(docker: Docker, base_image: str = DEFAULT_BASE_IMAGE) -> str:
    """The PostgreSQL image (built once from ``base_image``); returns its tag."""
    base = docker.image(base_image)
    if base is None:
        raise ExternalToolError(
            f"The base image {base_image} is not in the Docker engine.",
            hint="`bash .ci/setup-docker` makes it.",
        )
    tag = postgres_tag()
    dockerfile = postgres_dockerfile(base_image)
    digest = hashlib.sha256((dockerfile + ENTRYPOINT).encode()).hexdigest()[:16]
    labels = {
        f"{LABEL_PREFIX}recipe": RECIPE,
        f"{LABEL_PREFIX}layer": "postgres",
        f"{LABEL_PREFIX}base-image": str(base["Id"]),
        f"{LABEL_PREFIX}postgres-recipe": digest,
    }
    found = docker.image(tag)
    have = ((found or {}).get("Config") or {}).get("Labels") or {}
    if found is not None and all(have.get(k) == v for k, v in labels.items()):
        return tag
    docker.build(
        [
            ContextFile("Dockerfile", data=dockerfile.encode()),
            ContextFile("entrypoint.sh", data=ENTRYPOINT.encode(), mode=0o755),
        ],
        tag=tag,
        labels=labels,
    )
    return tag
