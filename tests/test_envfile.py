"""Env files: dotenv syntax, and errors naming file:line without quoting values."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.envfile import EnvFileError, read_env_file
from odooplane.errors import ConfigError


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "test.env"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_dotenv_syntax(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# database\n"
        "\n"
        "DB_HOST=db.internal\n"
        "export DB_PORT = 5432\n"
        "EMPTY=\n"
        "PLAIN=value with spaces   # and a comment\n"
        "HASH=abc#def\n"
        "SINGLE='literal $HOME \\n # not a comment'\n"
        'DOUBLE="tab\\there \\"quoted\\" \\$5 \\\\ done" # comment\n'
        "EQUALS=a=b=c\n"
        "  INDENTED=yes\n"
        "DOLLAR=${NOT_EXPANDED}\n",
    )
    assert read_env_file(path) == {
        "DB_HOST": "db.internal",
        "DB_PORT": "5432",
        "EMPTY": "",
        "PLAIN": "value with spaces",
        "HASH": "abc#def",
        "SINGLE": "literal $HOME \\n # not a comment",
        "DOUBLE": 'tab\there "quoted" $5 \\ done',
        "EQUALS": "a=b=c",
        "INDENTED": "yes",
        "DOLLAR": "${NOT_EXPANDED}",
    }


def test_multiline_quoted_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "KEY=\"-----BEGIN KEY-----\nabc\n-----END KEY-----\"\nNEXT=1\nSQL='select 1;\nselect 2;'\n",
    )
    assert read_env_file(path) == {
        "KEY": "-----BEGIN KEY-----\nabc\n-----END KEY-----",
        "NEXT": "1",
        "SQL": "select 1;\nselect 2;",
    }


def test_windows_line_endings_and_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffA=1\r\nB='2'\r\n".encode())
    assert read_env_file(path) == {"A": "1", "B": "2"}


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("A=1\nthis is not an assignment\n", 2, "not a KEY=VALUE line"),
        ("A=1\n\n1BAD=x\n", 3, "'1BAD' is not a valid variable name"),
        ("MY-KEY=x\n", 1, "'MY-KEY' is not a valid variable name"),
        ("A='open\nstill open\n", 1, "never closed"),
        ('A="x" trailing\n', 1, "text after the closing quote"),
        ("A=1\nB=2\nA=3\n", 3, "A is set twice (first on line 1)"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, line: int, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(EnvFileError) as info:
        read_env_file(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert problem in info.value.message


def test_errors_do_not_quote_values(tmp_path: Path) -> None:
    path = write(tmp_path, "s3cr3t-token-pasted-alone\n")
    with pytest.raises(EnvFileError) as info:
        read_env_file(path)
    assert "s3cr3t" not in str(info.value)


def test_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, b"A=1\nB=\xff\n")
    with pytest.raises(EnvFileError) as info:
        read_env_file(path)
    assert info.value.line == 2 and "UTF-8" in info.value.message


def test_missing_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        read_env_file(tmp_path / "nope.env")
    with pytest.raises(ConfigError, match="is a folder"):
        read_env_file(tmp_path)


def test_devices_and_pipes_are_not_read(tmp_path: Path) -> None:
    """/dev/zero was read until memory ran out; a FIFO would block forever."""
    import os
    import threading

    with pytest.raises(ConfigError, match="not a regular file"):
        read_env_file(Path("/dev/zero"))
    fifo = tmp_path / "pipe.env"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            read_env_file(fifo)
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), "reading a FIFO env file blocked"
    assert isinstance(outcome[0], ConfigError) and "not a regular file" in str(outcome[0])


def test_a_huge_file_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    from odooplane.envfile import MAX_ENV_FILE_BYTES

    path = tmp_path / "big.env"
    with path.open("wb") as fh:
        fh.truncate(50 * MAX_ENV_FILE_BYTES)  # sparse: large without using the disk
    with pytest.raises(EnvFileError, match="larger than"):
        read_env_file(path)
