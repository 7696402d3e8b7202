"""Problems in odooplane.yaml: key paths written as people read them, did-you-mean
suggestions, and the error that lists each problem at file:line:column."""

from __future__ import annotations

from odooplane.config.issues import (
    ConfigFileError,
    ConfigIssue,
    KeyProblem,
    did_you_mean,
    format_key_path,
)
from odooplane.errors import ConfigError


def test_format_key_path_dots_indexes_and_quotes() -> None:
    assert format_key_path(()) == ""
    assert format_key_path(("project",)) == "project"
    assert format_key_path(("environments", "staging", "branches", 1)) == (
        "environments.staging.branches[1]"
    )
    assert format_key_path(("environments", "pr-12", "odoo_options")) == (
        "environments.pr-12.odoo_options"
    )
    assert format_key_path(("env", "my env", 0)) == 'env["my env"][0]'
    assert format_key_path(("a", 'say "hi"\\')) == 'a["say \\"hi\\"\\\\"]'
    assert format_key_path((0, "x")) == "[0].x"


def test_did_you_mean_prefers_case_then_closeness() -> None:
    choices = ["production", "staging", "development"]
    assert did_you_mean("Staging", choices) == "staging"
    assert did_you_mean("prodution", choices) == "production"
    assert did_you_mean("qa", choices) is None
    assert did_you_mean("anything", []) is None


def test_key_problem_defaults_to_the_value_position() -> None:
    problem = KeyProblem(("odoo", "series"), "must be text.")
    assert (problem.at, problem.fix, problem.file, problem.line) == ("value", "", None, None)


def test_config_issue_reads_as_file_line_column_key_message_fix() -> None:
    issue = ConfigIssue("/p/odooplane.yaml", 3, 5, "odoo.series", "is unknown.", "Use 17.0.")
    assert str(issue) == "/p/odooplane.yaml:3:5: odoo.series: is unknown. Use 17.0."
    bare = ConfigIssue("/p/odooplane.yaml", 1, 1, "", "is empty.")
    assert str(bare) == "/p/odooplane.yaml:1:1: is empty."
    assert issue.to_dict() == {
        "file": "/p/odooplane.yaml",
        "line": 3,
        "column": 5,
        "path": "odoo.series",
        "message": "is unknown.",
        "fix": "Use 17.0.",
    }


def test_one_issue_is_the_message_itself() -> None:
    issue = ConfigIssue("/p/odooplane.yaml", 2, 1, "project", "is missing.")
    error = ConfigFileError("/p/odooplane.yaml", [issue])
    assert isinstance(error, ConfigError) and error.exit_code == 2
    assert str(error) == str(issue)
    assert error.issues == [issue] and not error.internal


def test_several_issues_are_counted_and_listed_one_a_line() -> None:
    issues = [
        ConfigIssue("/p/odooplane.yaml", 2, 1, "project", "is missing."),
        ConfigIssue("/p/odooplane.yaml", 4, 3, "odoo.series", "is unknown."),
    ]
    error = ConfigFileError("/p/odooplane.yaml", issues, internal=True)
    assert str(error).splitlines() == [
        "/p/odooplane.yaml has 2 problems:",
        "  /p/odooplane.yaml:2:1: project: is missing.",
        "  /p/odooplane.yaml:4:3: odoo.series: is unknown.",
    ]
    assert error.internal
