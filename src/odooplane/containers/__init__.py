"""Containers: the Docker engine, an image per build, Compose export."""
