"""A recorded step running a program: streamed output, echo, timeout, a missing program
(through the one subprocess runner, :mod:`odooplane.runner`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from odooplane.errors import ExternalToolError
from odooplane.evidence.store import EvidenceStore

SHA = "c" * 40


def test_run_streams_output_in_order_and_echoes(store: EvidenceStore) -> None:
    echoed: list[str] = []
    with store.start_deployment("staging", git_sha=SHA) as rec, rec.step("script") as step:
        code = step.run(
            [sys.executable, "-c", "import sys; print('one'); print('two', file=sys.stderr)"],
            echo=echoed.append,
        )
    assert code == 0
    assert echoed == ["one", "two"]
    text = Path(step.path).read_text()
    assert text.index("one") < text.index("two") < text.index("[exit 0 after")


def test_run_timeout_kills_and_says_where_the_output_is(store: EvidenceStore) -> None:
    with (
        pytest.raises(ExternalToolError, match=r"did not finish within 0\.5 s; its output is in"),
        store.start_deployment("staging", git_sha=SHA) as rec,
        rec.step("slow") as step,
    ):
        step.run(
            [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(30)"],
            timeout=0.5,
        )
    text = Path(step.path).read_text()
    assert "up" in text and "[killed after 0.5s timeout]" in text


def test_run_of_a_missing_program_is_a_sentence(store: EvidenceStore, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-tool"
    with (
        pytest.raises(ExternalToolError, match=r"Step 'tool': cannot start `.*no-such-tool`"),
        store.start_deployment("staging", git_sha=SHA) as rec,
        rec.step("tool") as step,
    ):
        step.run([str(missing)])
    assert "error: cannot start" in Path(step.path).read_text()
