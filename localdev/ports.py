"""Loopback ports and child processes for the local stack: pick a free port, start a child with its output
in a log file, wait until it answers."""

from __future__ import annotations

import ctypes
import http.client
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A port nobody listens on right now (the OS picks it; a race with another process is possible)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def port_answers(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(
    port: int, timeout: float = 10.0, *, host: str = LOOPBACK, alive: Callable[[], bool] | None = None
) -> None:
    """Return once something accepts connections on `port`; TimeoutError after `timeout` seconds, or
    RuntimeError as soon as `alive()` says the process that should listen there has gone."""
    deadline = time.monotonic() + timeout
    while True:
        if port_answers(port, host):
            return
        if alive is not None and not alive():
            raise RuntimeError(f"the process meant to listen on {host}:{port} exited")
        if time.monotonic() >= deadline:
            raise TimeoutError(f"nothing answered on {host}:{port} within {timeout:g} s")
        time.sleep(0.05)


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The status of `GET url` (plain http on loopback only), or None when nothing answers."""
    parsed = urlsplit(url)
    if parsed.scheme != "http" or parsed.hostname not in {LOOPBACK, "localhost"}:
        raise ValueError(f"only http://127.0.0.1 URLs are probed here, not {url!r}")
    path = parsed.path or "/"
    if parsed.query:
        path += "?" + parsed.query
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def wait_for_http(
    url: str,
    timeout: float = 10.0,
    *,
    alive: Callable[[], bool] | None = None,
    ok: Callable[[int], bool] | None = None,
) -> int:
    """Poll `GET url` until it answers with a status `ok` accepts (default: below 500); return that status."""
    accept = ok or (lambda status: status < 500)
    deadline = time.monotonic() + timeout
    while True:
        status = http_status(url)
        if status is not None and accept(status):
            return status
        if alive is not None and not alive():
            raise RuntimeError(f"the process meant to serve {url} exited")
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:g} s (last status: {status})")
        time.sleep(0.05)


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()  # looked up in the parent: the child between fork and exec only calls it
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def popen_child(
    argv: Sequence[str], *, log_path: Path, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a child in its own session (a Ctrl-C in the terminal reaches only the parent, which stops the
    children in order), stdout and stderr appended to `log_path`. On Linux, started from the main thread,
    the child also gets SIGTERM if the parent dies, so a crashed test run leaves no server behind."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    in_main_thread = threading.current_thread() is threading.main_thread()
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(  # noqa: S603 - argv is built by the local stack, never from input
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if in_main_thread and _PRCTL is not None else None,
        )


def log_tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a child's log, for an error message."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(empty log)"
