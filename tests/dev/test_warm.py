"""The pieces of the warm server that need no Odoo (the real-Odoo tier covers the rest)."""

from __future__ import annotations

import socket
from pathlib import Path

from odooplane.dev import warm_server
from odooplane.dev.warm import _last_frame, error_summary, listening_socket


def test_compile_errors_name_the_file_and_line(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text("def f():\n    return 1\n")
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    return 1\n\ndef g(:\n    pass\n")
    assert warm_server._compile_errors([str(good), str(tmp_path / "gone.py")]) is None
    error = warm_server._compile_errors([str(good), str(bad)])
    assert error is not None
    assert error["file"] == str(bad) and error["line"] == 4
    assert error["message"].startswith("SyntaxError")


def test_last_frame_of_a_traceback() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/odoo/modules/loading.py", line 10, in load\n'
        "    x()\n"
        '  File "/p/addons/x/models/a.py", line 7, in <module>\n'
        "    import nothing\n"
        "ModuleNotFoundError: No module named 'nothing'\n"
    )
    assert _last_frame(text) == ("/p/addons/x/models/a.py", 7)
    assert _last_frame("no traceback") == (None, None)
    assert error_summary(text) == "ModuleNotFoundError: No module named 'nothing'"


def test_a_data_file_error_names_the_data_file_and_its_exception_line() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/odoo/tools/convert.py", line 348, in _tag_record\n'
        "    model = env[rec_model]\n"
        "KeyError: 'x.nope'\n\n"
        "The above exception was the direct cause of the following exception:\n\n"
        "Traceback (most recent call last):\n"
        '  File "/odoo/tools/convert.py", line 569, in _tag_root\n'
        "    raise ParseError('while parsing %s:%s, somewhere inside\\n%s' % (\n"
        "odoo.tools.convert.ParseError: while parsing /p/addons/x/data/data.xml:2, somewhere"
        " inside\n"
        '<record id="r" model="x.nope">\n'
        '        <field name="key">k</field>\n'
        "    </record>\n"
    )
    assert _last_frame(text) == ("/p/addons/x/data/data.xml", 2)
    assert error_summary(text).startswith("odoo.tools.convert.ParseError: while parsing")


def test_listening_socket_is_inheritable_and_listens() -> None:
    sock = listening_socket(0)
    try:
        assert sock.get_inheritable()
        port = sock.getsockname()[1]
        # A connection is queued in the backlog even before anyone accepts it.
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            conn, _ = sock.accept()
            conn.close()
    finally:
        sock.close()
