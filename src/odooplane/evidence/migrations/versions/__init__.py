"""Evidence store revisions, oldest first; Alembic reads them by path."""
