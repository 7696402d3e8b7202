"""Alembic migrations of the evidence store (``ops`` schema).

Run programmatically by :mod:`odooplane.evidence.store`; no ``alembic.ini`` is needed.
Revisions are written by hand in ``versions/`` (``vNNNN_<name>.py``) and must be
transactional: they run inside the caller's transaction on SQLite and PostgreSQL.
"""
