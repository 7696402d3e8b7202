"""The README's code map and doc links stay true to the tree."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_module_and_package_is_on_the_map() -> None:
    package = ROOT / "src" / "odooplane"
    names = sorted(
        p.name + ("/" if p.is_dir() else "")
        for p in package.iterdir()
        if not p.name.startswith(("_", "."))
        and p.name != "py.typed"
        and (p.suffix == ".py" or (p.is_dir() and p.name != "__pycache__"))
    )
    missing = [name for name in names if not re.search(rf"^\s+{re.escape(name)}\s", README, re.M)]
    assert not missing, f"README's map of the code lacks {missing}"


def test_linked_docs_exist_and_every_doc_is_linked() -> None:
    linked = set(re.findall(r"\((docs/[\w.-]+\.md)\)", README))
    for link in linked:
        assert (ROOT / link).is_file(), f"README links {link}, which does not exist"
    on_disk = {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}
    assert on_disk <= linked, f"docs not linked from README: {sorted(on_disk - linked)}"


def test_readme_test_command_is_what_ci_runs() -> None:
    assert "bash scripts/test" in README
    assert "bash scripts/test" in (ROOT / ".ci" / "run").read_text()
