"""The road to production: promotion with approval (:mod:`.promote`), rollback
(:mod:`.rollback`) and backups (:mod:`.backups`, :mod:`.schedule`)."""
