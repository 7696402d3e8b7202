"""The evidence layer: append-only records of builds, deployments, migrations, gates."""
