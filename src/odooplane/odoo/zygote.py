"""A warm Odoo that forks environments' servers, run by the *runtime's* Python.

``serve``: the zygote. It imports Odoo and the Python of the Odoo-source addons it is
asked to preload, once, then listens on a unix socket and never parses a configuration,
opens a database or starts a thread. ``run``: what the process manager starts instead
of ``odoo-bin`` (same arguments): it hands its standard streams, working folder,
environment and arguments to the zygote, which forks a child that runs ``odoo-bin``'s
own entry point with them in a new session; the child serves like a cold ``odoo-bin``
(its own odoo.conf, hence its own database role, port and log) without paying the
imports. ``run`` stays as the child's stand-in for the process manager: it forwards
the signals it gets, and exits with the child's exit code. When the zygote is not
there, does not answer, or the child would import a preloaded addon from another folder
than the configuration says, ``run`` becomes the cold ``odoo-bin`` itself (exec).

This file must import nothing from odooplane: the runtime has Odoo's requirements, not
odooplane's. It is run by path.

Protocol, on the connection: ``run`` sends one byte with its fds 0, 1, 2 (SCM_RIGHTS),
then a JSON line ``{"argv": [...], "cwd": "...", "env": {...}}``; then JSON lines
``{"signal": 2}``. The child answers ``{"pid": 123}`` (or ``{"fallback": "why"}``),
and ``{"exit": 0}`` last.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

# odoo.addons' folders as the package defines them, before the zygote adds any.
_INITIAL_ADDONS: list[str] = []
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1)
CONNECT_TIMEOUT = 2.0
FIRST_REPLY_TIMEOUT = 10.0


def _send(conn: socket.socket, **message: Any) -> None:
    with contextlib.suppress(OSError):
        conn.sendall((json.dumps(message) + "\n").encode())


def _lines(conn: socket.socket) -> Any:
    buffer = b""
    while True:
        try:
            chunk = conn.recv(65536)
        except InterruptedError:
            continue
        except OSError:
            return
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            with contextlib.suppress(ValueError):
                yield json.loads(line)


# -- run: the process manager's side ---------------------------------------------------


def run(socket_path: str, odoo_argv: list[str]) -> int:
    """Serve through the zygote at ``socket_path``, or exec ``odoo_argv`` (odoo-bin
    and its arguments) cold."""
    cold = [sys.executable, *odoo_argv]
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(CONNECT_TIMEOUT)
    try:
        conn.connect(socket_path)
        socket.send_fds(conn, [b"H"], [0, 1, 2])
        header = {"argv": odoo_argv, "cwd": os.getcwd(), "env": dict(os.environ)}
        conn.sendall((json.dumps(header) + "\n").encode())
    except OSError as exc:
        conn.close()
        print(f"odooplane: no warm Odoo ({exc}); starting cold", file=sys.stderr, flush=True)
        os.execv(cold[0], cold)
    # A zygote that accepted but does not fork (stuck) must not hold the start up.
    conn.settimeout(FIRST_REPLY_TIMEOUT)
    messages = _lines(conn)
    first = next(messages, None)
    conn.settimeout(None)
    if not first or "pid" not in first:
        conn.close()
        why = (first or {}).get("fallback", "the warm Odoo did not answer")
        print(f"odooplane: {why}; starting cold", file=sys.stderr, flush=True)
        os.execv(cold[0], cold)

    def forward(signum: int, frame: Any) -> None:
        _send(conn, signal=signum)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    code = 1
    for message in messages:
        if "exit" in message:
            code = int(message["exit"])
    return code


# -- serve: the zygote ---------------------------------------------------------------------


def serve(socket_path: str, odoo_path: str, preload: list[str]) -> int:
    started = time.monotonic()
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, odoo_path)
    # As odoo-bin does, before the time module is used.
    os.environ["TZ"] = "UTC"
    time.tzset()
    odoo: Any = importlib.import_module("odoo")
    importlib.import_module("odoo.cli")
    # The Odoo-source addon folders, without parsing a configuration (the child parses
    # its own, which also sets up its logging).
    addons: Any = importlib.import_module("odoo.addons")
    # What a cold odoo-bin starts from (the package's own folders), before the
    # configuration's: children put their folders back in that order.
    _INITIAL_ADDONS[:] = list(addons.__path__)
    for folder in (os.path.join(odoo_path, "odoo", "addons"), os.path.join(odoo_path, "addons")):
        folder = os.path.normcase(os.path.abspath(folder))
        if os.path.isdir(folder) and folder not in addons.__path__:
            addons.__path__.append(folder)
    loaded = []
    for name in preload:
        try:
            importlib.import_module(f"odoo.addons.{name}")
            loaded.append(name)
        except Exception as exc:
            # The child imports it again and reports the error where it matters.
            print(f"odooplane zygote: could not pre-import {name}: {exc}", file=sys.stderr)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    os.chmod(socket_path, 0o600)
    listener.listen(64)
    print(
        f"odooplane zygote: Odoo {odoo.release.version} and {len(loaded)} addons imported in "
        f"{time.monotonic() - started:.2f} s; serving {socket_path}",
        file=sys.stderr,
        flush=True,
    )
    # Children are reaped by the kernel; each resets this before running Odoo.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    while True:
        try:
            conn, _ = listener.accept()
        except InterruptedError:
            continue
        try:
            conn.settimeout(5)
            _msg, fds, _flags, _addr = socket.recv_fds(conn, 1, 3)
            header = next(_lines(conn), None)
            conn.settimeout(None)
        except OSError:
            conn.close()
            continue
        if header is None or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            conn.close()
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            listener.close()
            _child(conn, fds, header, loaded, odoo_path)  # never returns
        for fd in fds:
            os.close(fd)
        conn.close()


def _child(
    conn: socket.socket, fds: list[int], header: dict[str, Any], loaded: list[str], src: str
) -> None:
    code = 1
    try:
        os.setsid()  # its own session: stopping or restarting the zygote leaves it be
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.environ.clear()
        os.environ.update(header["env"])
        os.environ["TZ"] = "UTC"
        time.tzset()
        os.chdir(header["cwd"])
        argv: list[str] = list(header["argv"])
        sys.argv = argv
        why = _foreign_addons(argv[1:], loaded, src)
        if why:
            _send(conn, fallback=why)
            os._exit(0)
        _send(conn, pid=os.getpid())
        threading.Thread(target=_watch, args=(conn,), daemon=True).start()
        odoo: Any = sys.modules["odoo"]
        try:
            odoo.cli.main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        _send(conn, exit=code)
        os._exit(code)


def _options(args: list[str]) -> dict[str, str]:
    """``addons_path`` and ``data_dir`` as odoo-bin will read them (its command line
    over its odoo.conf), without parsing Odoo's configuration: that happens once, in
    Odoo's own entry point (a second parse fails)."""
    import configparser

    found: dict[str, str] = {}
    conf = None
    for index, arg in enumerate(args):
        if arg in ("-c", "--config") and index + 1 < len(args):
            conf = args[index + 1]
        elif arg.startswith("--config="):
            conf = arg.split("=", 1)[1]
    if conf:
        parser = configparser.RawConfigParser()
        with contextlib.suppress(OSError, configparser.Error):
            parser.read(conf)
            if parser.has_section("options"):
                found.update(parser.items("options"))
    for index, arg in enumerate(args):
        for key in ("addons_path", "data_dir"):
            flag = "--" + key.replace("_", "-")
            if arg.startswith(flag + "="):
                found[key] = arg.split("=", 1)[1]
            elif arg == flag and index + 1 < len(args):
                found[key] = args[index + 1]
    return found


def _foreign_addons(args: list[str], loaded: list[str], src: str) -> str | None:
    """Why this child must not use the preloaded addons (None: it may): one of them is
    found first in another addons folder of its configuration (a project overriding a
    standard addon), or this Odoo's addons package cannot be set up here. Also gives
    ``odoo.addons`` the folders, in the order, a cold odoo-bin has (the package's own,
    the data folder's, the configuration's, base's: initialize_sys_path), which Odoo
    then keeps."""
    odoo: Any = sys.modules["odoo"]
    addons: Any = sys.modules["odoo.addons"]
    current = addons.__path__
    # A list up to Odoo 18; a namespace package's path (its list inside) from Odoo 19.
    entries = current if isinstance(current, list) else getattr(current, "_path", None)
    if not isinstance(entries, list):
        return "this Odoo's addons package is not set up by the warm Odoo"
    options = _options(args)
    wanted = list(_INITIAL_ADDONS)
    data_dir = options.get("data_dir", "").strip()
    if data_dir and data_dir != "False":
        extra = os.path.normcase(os.path.join(data_dir, "addons", odoo.release.series))
        if os.access(extra, os.R_OK) and extra not in wanted:
            wanted.append(extra)
    for given in (options.get("addons_path") or "").split(","):
        folder = os.path.normcase(os.path.abspath(given.strip()))
        if given.strip() and folder not in wanted:
            wanted.append(folder)
    base = os.path.normcase(os.path.abspath(os.path.join(src, "odoo", "addons")))
    if base not in wanted and os.path.isdir(base):
        wanted.append(base)
    entries[:] = wanted
    for name in loaded:
        module = sys.modules.get(f"odoo.addons.{name}")
        origin = getattr(module, "__file__", None)
        if not origin:
            continue
        have = os.path.dirname(os.path.realpath(origin))
        for folder in addons.__path__:
            candidate = os.path.join(folder, name)
            if os.path.isfile(os.path.join(candidate, "__manifest__.py")):
                if os.path.realpath(candidate) != have:
                    return f"addon {name} comes from {candidate}, not from {src}"
                break
    return None


def _watch(conn: socket.socket) -> None:
    """Signals ``run`` forwards. ``run`` gone without this server having exited means it
    was killed: this server goes the same way at once, as a cold odoo-bin would have
    (its port is free for the process started in its place)."""
    for message in _lines(conn):
        if "signal" in message:
            os.kill(os.getpid(), int(message["signal"]))
    os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="mode", required=True)
    serve_p = sub.add_parser("serve")
    serve_p.add_argument("--socket", required=True)
    serve_p.add_argument("--odoo-path", required=True)
    serve_p.add_argument("--preload", default="")
    run_p = sub.add_parser("run")
    run_p.add_argument("--socket", required=True)
    run_p.add_argument("odoo_argv", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.mode == "serve":
        return serve(args.socket, args.odoo_path, [n for n in args.preload.split(",") if n])
    odoo_argv = args.odoo_argv[1:] if args.odoo_argv[:1] == ["--"] else args.odoo_argv
    return run(args.socket, odoo_argv)


if __name__ == "__main__":
    sys.exit(main())
