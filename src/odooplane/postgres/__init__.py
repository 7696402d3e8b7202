"""PostgreSQL for odooplane: the embedded cluster, external servers and database operations.

- :mod:`~odooplane.postgres.server`: :class:`DatabaseServer` (how to reach a server) and
  :func:`server_for` (the project's server, embedded or from ``database.server``);
- :mod:`~odooplane.postgres.cluster`: :class:`EmbeddedCluster`, ``initdb`` + ``pg_ctl``;
- :mod:`~odooplane.postgres.databases`: list, create, clone, snapshot, restore, swap,
  drop, import, export, each carrying the Odoo filestore along;
- :mod:`~odooplane.postgres.identifiers`: name validation and quoting;
- :mod:`~odooplane.postgres.filestore`, :mod:`~odooplane.postgres.archive`,
  :mod:`~odooplane.postgres.binaries`, :mod:`~odooplane.postgres.sysuser`: the parts.
"""

from odooplane.postgres.project_server import server_for
from odooplane.postgres.server import DatabaseServer

__all__ = ["DatabaseServer", "server_for"]
