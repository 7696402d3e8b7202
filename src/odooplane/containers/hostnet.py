"""Making this machine's own services reachable from the project's containers.

The embedded PostgreSQL cluster listens on 127.0.0.1, which inside a container is the
container itself. Containers reach the machine at their network's gateway address: the
cluster is told to listen there too (``ALTER SYSTEM``, then a restart, once) and
``pg_hba.conf`` accepts connections from that network's subnet only, with a password
(scram-sha-256); nothing listens on the machine's other interfaces.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING

from odooplane.errors import ConfigError

if TYPE_CHECKING:
    from odooplane.project import Project

HBA_MARK = "# odooplane docker network"


def hba_line(subnet: str) -> str:
    return f"host all all {subnet} scram-sha-256 {HBA_MARK}\n"


def open_cluster_to(project: Project, gateway: str, subnet: str) -> bool:
    """Make the embedded cluster listen on ``gateway`` and accept ``subnet``; returns
    whether it had to be restarted for it."""
    from odooplane.postgres.cluster import EmbeddedCluster
    from odooplane.postgres.project_server import server_for

    for value in (gateway, subnet):
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ConfigError(f"'{value}' is not an IP address or subnet.") from None
    server = server_for(project)
    with server.connect() as conn:
        listen = str(conn.execute("SHOW listen_addresses").fetchone()[0])  # type: ignore[index]
        hba = Path(str(conn.execute("SHOW hba_file").fetchone()[0]))  # type: ignore[index]
        current = [a.strip() for a in listen.split(",") if a.strip()]
        text = hba.read_text(encoding="utf-8")
        if hba_line(subnet) not in text:
            # Appending keeps the file's owner (the cluster's system user) and mode.
            with hba.open("a", encoding="utf-8") as fh:
                fh.write(("" if text.endswith("\n") else "\n") + hba_line(subnet))
            conn.execute("SELECT pg_reload_conf()")
        if gateway in current or "*" in current:
            return False
        wanted = ",".join([*current, gateway])
        conn.execute(f"ALTER SYSTEM SET listen_addresses = '{wanted}'")
    config = project.config.database
    cluster = EmbeddedCluster(
        project.state_dir, bin_dir=Path(config.postgres_bin) if config.postgres_bin else None
    )
    cluster.stop()
    cluster.start()
    return True
