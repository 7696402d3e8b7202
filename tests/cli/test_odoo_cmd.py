"""`odooplane odoo setup | info | addons`: output, --json and errors, on a tiny fake Odoo
tree (the real Odoo is exercised in tests/odoo/test_process.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cli_run import run, run_json
from conftest import TEST_CACHE, run_git, write_addon


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("ODOOPLANE_CACHE_DIR", str(cache))
    monkeypatch.setenv("UV_CACHE_DIR", str(TEST_CACHE / "uv"))
    return cache


def write_project(root: Path, source: str, series: str = "17.0", extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "odooplane.yaml").write_text(
        f"project: clitest\nodoo:\n  series: '{series}'\n  source: {source}\n{extra}"
    )
    return root


def test_setup_then_info(
    tmp_path: Path,
    make_fake_odoo: Callable[..., Path],
    isolated_cache: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    tree = make_fake_odoo("odoo", requirements="polib==1.1.1\n")
    project = write_project(tmp_path / "project", str(tree))

    before = run_json(capfd, "-C", str(project), "odoo", "info")
    assert before["source"]["state"] == "ready"
    assert before["source"]["series"] == "17.0"
    assert before["runtime"]["state"] == "missing"
    assert "odooplane odoo setup" in before["runtime"]["hint"]

    built = run_json(capfd, "-C", str(project), "odoo", "setup", "--quiet")
    assert built["runtime"]["state"] == "built"
    assert built["runtime"]["deps_hash"] == before["runtime"]["deps_hash"]
    assert Path(built["runtime"]["python"]).is_file()
    assert built["runtime"]["path"].startswith(str(isolated_cache / "runtimes"))

    reused = run_json(capfd, "-C", str(project), "odoo", "setup", "--quiet")
    assert reused["runtime"]["state"] == "reused"
    assert reused["runtime"]["path"] == built["runtime"]["path"]

    after = run_json(capfd, "-C", str(project), "odoo", "info")
    assert after["runtime"]["state"] == "ready"
    assert after["runtime"]["installer"] == "uv"

    code, out, _err = run(capfd, "-C", str(project), "odoo", "info")
    assert code == 0
    text = " ".join(out.split())
    assert "runtime state ready" in text and str(tree) in text


def test_series_mismatch_exits_2_with_a_sentence(
    tmp_path: Path, make_fake_odoo: Callable[..., Path], capfd: pytest.CaptureFixture[str]
) -> None:
    tree = make_fake_odoo("odoo16", version_info="(16, 0, 0, FINAL, 0, '')")
    project = write_project(tmp_path / "project", str(tree), series="17.0")
    code, out, err = run(capfd, "-C", str(project), "odoo", "setup")
    assert code == 2 and out == ""
    assert "odoo.series is '17.0' but the Odoo source at" in err
    assert "Traceback" not in err
    assert "hint: Set odoo.series to '16.0'" in err


def test_not_an_odoo_folder(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    project = write_project(tmp_path / "project", str(tmp_path / "empty"))
    code, _out, err = run(capfd, "-C", str(project), "odoo", "info")
    assert code == 2
    assert "is not an Odoo source tree: odoo/release.py is missing" in err


def test_no_project(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capfd, "-C", str(tmp_path), "odoo", "info")
    assert code == 2 and "No odooplane.yaml" in err


def test_info_does_not_fetch_a_git_source(
    tmp_path: Path,
    make_fake_odoo: Callable[..., Path],
    isolated_cache: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    upstream = make_fake_odoo("upstream")
    run_git(upstream, "init", "-q", "-b", "17.0")
    run_git(upstream, "add", "-A")
    run_git(upstream, "commit", "-q", "-m", "odoo")
    project = write_project(tmp_path / "project", f"{{git: 'file://{upstream}', ref: '17.0'}}")
    info = run_json(capfd, "-C", str(project), "odoo", "info")
    assert info["source"]["state"] == "not fetched"
    assert info["source"]["configured"] == {"git": f"file://{upstream}", "ref": "17.0"}
    assert not (isolated_cache / "odoo-src").exists()
    code, out, _err = run(capfd, "-C", str(project), "odoo", "info")
    assert code == 0 and "Run `odooplane odoo setup`" in " ".join(out.split())


def test_addons_in_install_order(
    tmp_path: Path, make_fake_odoo: Callable[..., Path], capfd: pytest.CaptureFixture[str]
) -> None:
    tree = make_fake_odoo("odoo")
    project = write_project(tmp_path / "project", str(tree))
    write_addon(project / "addons", "z_base_ext", depends=("base",))
    write_addon(project / "addons", "a_sales", depends=("sale", "z_base_ext"))
    result = run_json(capfd, "-C", str(project), "odoo", "addons")
    assert [a["name"] for a in result["addons"]] == ["z_base_ext", "a_sales"]
    assert result["addons"][1]["depends"] == ["sale", "z_base_ext"]
    code, out, _err = run(capfd, "-C", str(project), "odoo", "addons")
    assert code == 0 and "z_base_ext" in out


@pytest.mark.parametrize("command", ["setup", "info", "addons"])
def test_help(command: str, capfd: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capfd, "odoo", command, "--help")
    assert code == 0 and "--json" in out


def test_skipped_packages_are_reported_by_info_and_setup(
    tmp_path: Path,
    make_fake_odoo: Callable[..., Path],
    isolated_cache: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from odooplane.odoo.runtime import SystemProbe, ensure_runtime
    from odooplane.odoo.source import inspect_source
    from odooplane.project import load_project

    class NoLdapHeaders(SystemProbe):
        def has_header(self, header: str) -> bool:
            return header != "ldap.h" and super().has_header(header)

    tree = make_fake_odoo("odoo", requirements="polib==1.1.1\npython-ldap==3.4.0\n")
    project_root = write_project(tmp_path / "project", str(tree))
    # Built by the library on a machine "without" ldap.h; the commands then find it.
    ensure_runtime(load_project(project_root), inspect_source(tree), probe=NoLdapHeaders())
    info = run_json(capfd, "-C", str(project_root), "odoo", "info")
    assert [s["name"] for s in info["runtime"]["skipped"]] == ["python-ldap"]
    code, _out, err = run(capfd, "-C", str(project_root), "odoo", "info")
    assert code == 0
    assert "python-ldap==3.4.0 was not installed" in err
    assert "apt-get install libldap2-dev libsasl2-dev" in err
    code, _out, err = run(capfd, "-C", str(project_root), "odoo", "setup", "--quiet")
    assert code == 0 and "odooplane odoo setup --rebuild" in err
