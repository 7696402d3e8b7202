"""The one exception hierarchy: each class maps to the exit code the CLI returns, and
the text people read is the sentence plus its hint."""

from __future__ import annotations

import pytest

from odooplane.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    CheckFailedError,
    ConfigError,
    ExternalToolError,
    LockedError,
    NotFoundError,
    OdooplaneError,
    RefusedError,
    UsageError,
)


def test_exit_codes_are_the_documented_ones() -> None:
    assert (EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNEXPECTED) == (0, 1, 2, 3)


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (OdooplaneError, EXIT_FAILED),
        (UsageError, EXIT_USAGE),
        (ConfigError, EXIT_USAGE),
        (RefusedError, EXIT_FAILED),
        (LockedError, EXIT_FAILED),
        (CheckFailedError, EXIT_FAILED),
        (NotFoundError, EXIT_FAILED),
        (ExternalToolError, EXIT_FAILED),
    ],
)
def test_every_class_is_an_odooplane_error_with_its_exit_code(
    cls: type[OdooplaneError], code: int
) -> None:
    error = cls("The thing 'x' is wrong.")
    assert isinstance(error, OdooplaneError)
    assert error.exit_code == code
    with pytest.raises(OdooplaneError, match=r"The thing 'x' is wrong\."):
        raise error


def test_config_and_locked_errors_specialise_their_parents() -> None:
    assert issubclass(ConfigError, UsageError)
    assert issubclass(LockedError, RefusedError)


def test_hint_follows_the_message_on_its_own_line() -> None:
    error = NotFoundError("No environment named 'qa'.", hint="Known environments: dev.")
    assert error.message == "No environment named 'qa'."
    assert error.hint == "Known environments: dev."
    assert str(error) == "No environment named 'qa'.\nKnown environments: dev."
    assert error.args == ("No environment named 'qa'.",)


def test_without_hint_the_text_is_the_message_alone() -> None:
    error = RefusedError("Production needs --force.")
    assert error.hint is None
    assert str(error) == "Production needs --force."
