"""The local runner the end-to-end tests use: GitHub's expression semantics, `if`s,
env layers, continue-on-error, outputs; anything else refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions_runner import LocalRunner, Unsupported, condition, evaluate

CONTEXTS = {
    "github": {
        "event": {"pull_request": {"number": 7, "head": {"repo": {"full_name": "A/B"}}}},
        "repository": "a/b",
    },
    "steps": {"gates": {"outcome": "failure"}},
    "inputs": {"sha": ""},
}


def ok(_name: str) -> bool:
    return _name in ("success", "always")


def test_expressions() -> None:
    assert evaluate("github.event.pull_request.number", CONTEXTS, ok) == 7
    # == compares strings case-insensitively
    assert (
        evaluate("github.event.pull_request.head.repo.full_name == github.repository", CONTEXTS, ok)
        is True
    )
    assert evaluate("inputs.sha || 'staging'", CONTEXTS, ok) == "staging"
    assert (
        evaluate(
            "!cancelled() && (steps.gates.outcome == 'failure')", CONTEXTS, lambda n: n == "success"
        )
        is True
    )
    assert evaluate("format('{0}-{1}', 'pr', 7)", CONTEXTS, ok) == "pr-7"
    assert evaluate("github['repository']", CONTEXTS, ok) == "a/b"
    assert (
        condition("steps.gates.outcome == 'failure'", CONTEXTS, lambda n: n == "failure") is False
    )
    assert condition("${{ always() }}", CONTEXTS, lambda n: n == "always") is True
    with pytest.raises(Unsupported):
        evaluate("hashFiles('x')", CONTEXTS, ok)
    with pytest.raises(Unsupported):
        evaluate("nope.x", CONTEXTS, ok)


WORKFLOW = """name: t
on:
  pull_request:
    types: [opened]
env:
  A: workflow
defaults:
  run:
    shell: bash
jobs:
  one:
    runs-on: [self-hosted]
    env:
      B: ${{ github.event.number }}
    steps:
      - id: first
        continue-on-error: true
        run: |
          echo "value=$A-$B" >> "$GITHUB_OUTPUT"
          false
      - if: ${{ steps.first.outcome == 'failure' }}
        env:
          A: step
          V: ${{ steps.first.outputs.value }}
        run: echo "$A $V" >> "$GITHUB_STEP_SUMMARY"
      - run: exit 3
      - run: echo never
      - if: failure()
        run: echo cleanup
  two:
    if: github.event.number == 2
    runs-on: self-hosted
    steps:
      - run: echo skipped
"""


def test_jobs_and_steps(tmp_path: Path) -> None:
    (tmp_path / "w.yml").write_text(WORKFLOW)
    runner = LocalRunner(tmp_path / "r", ["self-hosted"], "http://api", "http://srv", "a/b", "t")
    assert runner.run(tmp_path / "w.yml", "pull_request", {"action": "closed"}) is None
    results = runner.run(tmp_path / "w.yml", "pull_request", {"action": "opened", "number": 1})
    assert results is not None
    one, two = results
    assert [(s.outcome, s.conclusion) for s in one.steps] == [
        ("failure", "success"),
        ("success", "success"),
        ("failure", "failure"),
        ("skipped", "skipped"),
        ("success", "success"),
    ]
    assert one.summary == "step workflow-1\n" and one.conclusion == "failure"
    assert two.skipped
