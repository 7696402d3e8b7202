"""GitHub: REST client, events, the pull-request comment, commit statuses,
deployments, approvals and the generated workflows (docs/github.md)."""
