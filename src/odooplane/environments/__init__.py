"""Environments: branch mapping, builds, state, locks, ports and the lifecycle."""
