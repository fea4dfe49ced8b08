"""The whole local stack as child processes on loopback: Azurite, the Graph emulator and the local
Functions host serving the app, wired together through the environment the app reads in Azure.
`python -m localdev up` runs it for a person; tests use `Stack` directly."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from localdev.azurite import REPO_ROOT, Azurite, AzuriteError
from localdev.graph.demo import SUPPORT_GROUP_ID
from localdev.ports import LOOPBACK, free_port, http_status, log_tail, popen_child, port_is_free

HOST_READY = "local host listening on "
GRAPH_READY = "graph emulator listening on "
DEFAULT_HOST_PORT = 7071
DEMO_USERS = ("alice@contoso.test", "bob@contoso.test", "carol@contoso.test")


class StackError(RuntimeError):
    """A part of the stack would not start, or died; the message carries the tail of its log."""


def _stop_process(
    proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout: float = 10.0
) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_for_line(
    proc: subprocess.Popen[bytes], log_path: Path, needle: str, *, offset: int, timeout: float, what: str
) -> str:
    """The first log line (written after `offset`) that starts with `needle`; StackError with the log's tail
    when the process exits first or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(log_path, "rb") as log_file:
                log_file.seek(offset)
                text = log_file.read().decode("utf-8", errors="replace")
        except OSError:
            text = ""
        for line in text.splitlines():
            if line.startswith(needle):
                return line
        if proc.poll() is not None:
            raise StackError(
                f"{what} exited with code {proc.returncode} before it was ready; {log_path}:\n"
                f"{log_tail(log_path)}"
            )
        if time.monotonic() > deadline:
            _stop_process(proc, signal.SIGKILL)
            raise StackError(f"{what} was not ready within {timeout:g} s; {log_path}:\n{log_tail(log_path)}")
        time.sleep(0.05)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class Stack:
    """Azurite + Graph emulator + local host, each a child process whose output goes to a log file in
    `data_dir/logs` (`azurite_log`, `graph_log`, `host_log`). Azurite keeps its tables in
    `data_dir/azurite`. Without a data_dir a temporary one is used and removed when the context manager
    exits (`stop()` alone keeps it, so logs can still be read)."""

    def __init__(
        self,
        *,
        app_dir: Path,
        users: str = "demo",
        function_key: str | None = None,
        table_prefix: str = "presence",
        env: dict[str, str] | None = None,
        data_dir: Path | None = None,
        run_timers: bool = True,
        host_port: int | None = None,
        graph_port: int | None = None,
        startup_timeout: float = 30.0,
        azurite: Azurite | None = None,
        presence_budget: int | None = None,
    ) -> None:
        self.app_dir = Path(app_dir).resolve()
        self.users = users
        self.function_key = function_key
        self.table_prefix = table_prefix
        self.env = dict(env or {})
        # The emulator's presence throttle (requests per app in any 30 s; 0: off; None: its CLI default).
        self.presence_budget = presence_budget
        self._owns_dir = data_dir is None
        self.data_dir = (
            Path(tempfile.mkdtemp(prefix="localdev-stack-")) if data_dir is None else Path(data_dir)
        )
        self.run_timers = run_timers
        self.host_port = host_port or free_port()
        self.graph_port = graph_port or free_port()
        self.startup_timeout = startup_timeout
        self.azurite = azurite or Azurite(self.data_dir / "azurite")
        self._graph: subprocess.Popen[bytes] | None = None
        self._host: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------------------ addresses

    @property
    def host_url(self) -> str:
        return f"http://{LOOPBACK}:{self.host_port}"

    @property
    def api_url(self) -> str:
        return f"{self.host_url}/api"

    @property
    def graph_url(self) -> str:
        return f"http://{LOOPBACK}:{self.graph_port}"

    @property
    def graph_base_url(self) -> str:
        return f"{self.graph_url}/v1.0"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def host_log(self) -> Path:
        return self.logs_dir / "host.log"

    @property
    def graph_log(self) -> Path:
        return self.logs_dir / "graph.log"

    @property
    def azurite_log(self) -> Path:
        return self.azurite.log_path

    @property
    def host_pid(self) -> int | None:
        return self._host.pid if self._host is not None else None

    @property
    def graph_pid(self) -> int | None:
        return self._graph.pid if self._graph is not None else None

    @property
    def pids(self) -> dict[str, int]:
        """The pids of the children started by this stack that are still running."""
        out = {}
        for name, proc in (("host", self._host), ("graph", self._graph)):
            if proc is not None and proc.poll() is None:
                out[name] = proc.pid
        if self.azurite.running and self.azurite.pid is not None:
            out["azurite"] = self.azurite.pid
        return out

    def host_env(self) -> dict[str, str]:
        """The environment the local host (and so the app) starts with."""
        env = self._python_env()
        env.pop("FUNCTION_KEY", None)
        env.update(
            GRAPH_BASE_URL=self.graph_base_url,
            TABLES_CONNECTION_STRING=self.azurite.connection_string,
            TABLE_PREFIX=self.table_prefix,
        )
        if self.function_key is not None:
            env["FUNCTION_KEY"] = self.function_key
        env.update(self.env)
        return env

    @staticmethod
    def _python_env() -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    # ------------------------------------------------------------------------------ lifecycle

    def start(self) -> Stack:
        """Azurite, then the emulator, then the host, each waited for; on failure the started ones stop."""
        self.start_services()
        try:
            self.start_host()
        except BaseException:
            self.stop()
            raise
        return self

    def start_services(self) -> Stack:
        """Azurite, then the emulator, without the host (`python -m localdev services`, for `func start`)."""
        try:
            try:
                self.azurite.start()
            except AzuriteError as exc:
                raise StackError(str(exc)) from exc
            self.start_graph()
        except BaseException:
            self.stop()
            raise
        return self

    def graph_argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "localdev",
            "graph",
            "--port",
            str(self.graph_port),
            "--users",
            self.users,
            *(() if self.presence_budget is None else ("--presence-budget", str(self.presence_budget))),
        ]

    def start_graph(self) -> None:
        if self._graph is not None and self._graph.poll() is None:
            return
        offset = _size(self.graph_log)
        self._graph = popen_child(
            self.graph_argv(), log_path=self.graph_log, cwd=REPO_ROOT, env=self._python_env()
        )
        _wait_for_line(
            self._graph,
            self.graph_log,
            GRAPH_READY,
            offset=offset,
            timeout=self.startup_timeout,
            what="the Graph emulator",
        )

    def host_argv(self, port: int | None = None, *, run_timers: bool | None = None) -> list[str]:
        """The local host's command line (another port and timer choice for a second instance)."""
        argv = [
            sys.executable,
            "-m",
            "localdev",
            "host",
            "--port",
            str(port or self.host_port),
            "--app-dir",
            str(self.app_dir),
        ]
        if not (self.run_timers if run_timers is None else run_timers):
            argv.append("--no-timers")
        return argv

    def start_host(self) -> None:
        if self._host is not None and self._host.poll() is None:
            return
        argv = self.host_argv()
        offset = _size(self.host_log)
        self._host = popen_child(argv, log_path=self.host_log, cwd=self.app_dir, env=self.host_env())
        _wait_for_line(
            self._host,
            self.host_log,
            HOST_READY,
            offset=offset,
            timeout=self.startup_timeout,
            what="the local host",
        )

    def stop_host(self, timeout: float = 10.0) -> None:
        """SIGTERM (the host stops cleanly), SIGKILL after `timeout`."""
        proc, self._host = self._host, None
        _stop_process(proc, signal.SIGTERM, timeout)

    def kill_host(self) -> None:
        """A crash: SIGKILL, mid-request or mid-tick."""
        proc, self._host = self._host, None
        _stop_process(proc, signal.SIGKILL)

    def restart_host(self) -> None:
        """Stop the host and start it again on the same port with the same environment."""
        self.stop_host()
        self.start_host()

    def stop_graph(self, timeout: float = 10.0) -> None:
        proc, self._graph = self._graph, None
        _stop_process(proc, signal.SIGTERM, timeout)

    def stop(self) -> None:
        """Stop the host, the emulator and Azurite, by pid, waiting for each."""
        self.stop_host()
        self.stop_graph()
        self.azurite.stop()

    def close(self) -> None:
        """Stop, and remove the data directory if the stack created it."""
        self.stop()
        if self._owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def dead_child(self) -> str | None:
        """The name of a child that should run but has exited, if any."""
        for name, proc in (("host", self._host), ("Graph emulator", self._graph)):
            if proc is not None and proc.poll() is not None:
                return name
        if not self.azurite.running:
            return "Azurite"
        return None

    def host_banner(self) -> list[str]:
        """The function list the host printed after its readiness line (latest start)."""
        lines = log_tail(self.host_log, 2000).splitlines()
        starts = [i for i, line in enumerate(lines) if line.startswith(HOST_READY)]
        if not starts:
            return []
        return [line for line in lines[starts[-1] + 1 :] if line.startswith("  ")]


# -------------------------------------------------------------------------------------------- `up`


def _demo_users(stack: Stack) -> list[str]:
    """The emulator's directory if it lists it (`/_emulator/users`), else the documented demo users."""
    url = f"{stack.graph_url}/_emulator/users"
    if http_status(url) != 200:
        return list(DEMO_USERS)
    conn = http.client.HTTPConnection(LOOPBACK, stack.graph_port, timeout=2)
    try:
        conn.request("GET", "/_emulator/users")
        data: Any = json.loads(conn.getresponse().read())
    except (OSError, ValueError):
        return list(DEMO_USERS)
    finally:
        conn.close()
    items = data.get("value", data) if isinstance(data, dict) else data
    names = [
        str(u.get("userPrincipalName")) for u in items if isinstance(u, dict) and u.get("userPrincipalName")
    ]
    return names or list(DEMO_USERS)


def _banner(stack: Stack, note: str | None) -> str:
    key = stack.function_key
    auth = f'-H "x-functions-key: {key}" ' if key else ""
    users = _demo_users(stack)
    alice = users[0]
    functions = stack.host_banner()
    timers = [m.group(1) for line in functions if (m := re.match(r"^\s+timer (\S+)", line))]
    lines = [
        "",
        "local stack is up" + (f" ({note})" if note else ""),
        f"  API            {stack.api_url}",
        f"  function key   {key}   (header x-functions-key, or ?code=)"
        if key
        else "  function key   none (keys off)",
        f"  Graph          {stack.graph_base_url}   (emulator control: {stack.graph_url}/_emulator)",
        f"  Azurite        {stack.azurite.table_endpoint}   (tables prefixed '{stack.table_prefix}')",
        f"  demo users     {', '.join(users)}",
        f"  data and logs  {stack.data_dir}   (host: {stack.host_log})",
        "",
        "functions:",
        *functions,
        "",
        "try:",
        f"  curl {stack.api_url}/health",
        f"  curl {auth}{stack.api_url}/users/{alice}/presence",
        f'  curl -X PUT {auth}-H "Content-Type: application/json" '
        f'-d \'{{"availability": "Busy", "activity": "InACall", "durationMinutes": 30}}\' '
        f"{stack.api_url}/users/{alice}/presence/session",
        f'  curl -X POST {auth}-H "Content-Type: application/json" '
        f'-d \'{{"group": "{SUPPORT_GROUP_ID}", "callbackUrl": "http://127.0.0.1:8080/hook"}}\' '
        f"{stack.api_url}/watches   (your receiver on loopback; poll_watches POSTs each change)",
        f"  curl {stack.graph_url}/_emulator/clock",
        f"  curl {stack.graph_url}/_emulator/requests",
        f"  curl {stack.host_url}/admin/clock",
    ]
    lines += [f"  curl -X POST {auth}{stack.host_url}/admin/functions/{name}" for name in timers[:1]]
    lines += ["", "Ctrl-C stops everything."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev up", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=DEFAULT_HOST_PORT, help="the host's port (default 7071)")
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument("--function-key", help="the function key (default: a random one)")
    keys.add_argument("--no-key", action="store_true", help="no function key: every route open")
    parser.add_argument("--data-dir", default=".localdev", help="Azurite's tables and the logs (kept)")
    parser.add_argument("--app-dir", default=str(REPO_ROOT), help="the directory holding function_app.py")
    parser.add_argument("--users", default="demo", help="the emulator's directory (default: demo)")
    parser.add_argument("--no-timers", action="store_true", help="run timers only through the admin route")
    args = parser.parse_args(argv)

    key = None if args.no_key else (args.function_key or secrets.token_hex(20))
    port, note = args.port, None
    if not port_is_free(port):
        port = free_port()
        note = f"port {args.port} is taken, so the host listens on {port}"
    stack = Stack(
        app_dir=Path(args.app_dir),
        users=args.users,
        function_key=key,
        data_dir=Path(args.data_dir).resolve(),
        run_timers=not args.no_timers,
        host_port=port,
    )
    return run_until_stopped(
        stack,
        stack.start,
        lambda: _banner(stack, note),
        what="local stack",
        parts="Azurite, the Graph emulator and the local host",
    )


def run_until_stopped(
    stack: Stack, start: Callable[[], object], banner: Callable[[], str], *, what: str, parts: str
) -> int:
    """Start (`start`), print the banner, and wait for Ctrl-C or SIGTERM (0) or for a child to die (1, with
    its log's tail); everything started is stopped either way. `python -m localdev up` and `services`."""
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        print(f"starting {parts} (logs in {stack.logs_dir}) ...", flush=True)
        try:
            start()
        except StackError as exc:
            print(f"{what}: {exc}", file=sys.stderr, flush=True)
            return 1
        print(banner(), flush=True)
        while not stopping.wait(1.0):
            dead = stack.dead_child()
            if dead is not None:
                log = (
                    stack.host_log
                    if dead == "host"
                    else stack.graph_log
                    if "Graph" in dead
                    else stack.azurite_log
                )
                print(f"{what}: the {dead} exited; {log}:\n{log_tail(log)}", file=sys.stderr, flush=True)
                code = 1
                break
    finally:
        print(f"stopping {parts} ...", flush=True)
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code
