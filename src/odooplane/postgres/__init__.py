"""PostgreSQL for odooplane: the embedded cluster, external servers and database operations.

- :mod:`~odooplane.postgres.server`: :class:`DatabaseServer` (how to reach a server);
- :mod:`~odooplane.postgres.project_server`: :func:`server_for` (the project's server,
  embedded or from ``database.server``, carrying production's protection);
- :mod:`~odooplane.postgres.cluster`: :class:`EmbeddedCluster`, ``initdb`` + ``pg_ctl``;
- :mod:`~odooplane.postgres.databases`: list, create, clone, snapshot, restore, swap,
  drop, import, export, each carrying the Odoo filestore along;
- :mod:`~odooplane.postgres.protection`: the refusals a server carries;
- :mod:`~odooplane.postgres.identifiers`: name validation and quoting;
- :mod:`~odooplane.postgres.filestore`, :mod:`~odooplane.postgres.archive`,
  :mod:`~odooplane.postgres.binaries`, :mod:`~odooplane.postgres.sysuser`: the parts.

The package imports none of them: importing one part never loads the others (the
project's server sits above the policy that sits above the protection).
"""
