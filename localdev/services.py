"""`python -m localdev services`: Azurite (blob, queue and table) and the Graph emulator alone, on the ports
`local.settings.example.json` names, so that Azure Functions Core Tools (`func start`) can host the app."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from localdev.azurite import REPO_ROOT, Azurite
from localdev.ports import free_port, port_is_free
from localdev.stack import Stack, run_until_stopped

# What local.settings.example.json assumes: Azurite's default ports (UseDevelopmentStorage=true) and the
# emulator on 8765.
DEFAULT_PORTS = {"blob": 10000, "queue": 10001, "table": 10002, "graph": 8765}
DEVELOPMENT_STORAGE = "UseDevelopmentStorage=true"


def choose_ports(wanted: dict[str, int]) -> tuple[dict[str, int], list[str]]:
    """The wanted ports where free, another free port where not (with a note saying which)."""
    chosen, notes = {}, []
    for name, port in wanted.items():
        if port_is_free(port):
            chosen[name] = port
        else:
            chosen[name] = free_port()
            notes.append(f"port {port} ({name}) is taken, so {name} listens on {chosen[name]}")
    return chosen, notes


def local_settings(stack: Stack) -> dict[str, str]:
    """The local.settings.json Values that point the app and its host at these services."""
    azurite = stack.azurite
    defaults = (azurite.blob_port, azurite.queue_port, azurite.port) == tuple(
        DEFAULT_PORTS[name] for name in ("blob", "queue", "table")
    )
    return {
        "AzureWebJobsStorage": DEVELOPMENT_STORAGE if defaults else azurite.host_connection_string,
        "TABLES_CONNECTION_STRING": azurite.connection_string,
        "GRAPH_BASE_URL": stack.graph_base_url,
    }


def example_settings(repo_root: Path = REPO_ROOT) -> dict[str, str]:
    data = json.loads((repo_root / "local.settings.example.json").read_text(encoding="utf-8"))
    return {name: str(value) for name, value in data["Values"].items()}


def banner(stack: Stack, notes: list[str]) -> str:
    values = local_settings(stack)
    example = example_settings()
    differing = {name: value for name, value in values.items() if example.get(name) != value}
    lines = [
        "",
        "Azurite and the Graph emulator are up, for `func start`",
        *(f"  ({note})" for note in notes),
    ]
    lines += [
        f"  Azurite        blob {stack.azurite.blob_port}, queue {stack.azurite.queue_port}, "
        f"table {stack.azurite.port}",
        f"  Graph          {stack.graph_base_url}   (emulator control: {stack.graph_url}/_emulator)",
        f"  data and logs  {stack.data_dir}",
        "",
        "local.settings.json needs these Values:",
        *(f"  {json.dumps(name)}: {json.dumps(value)}," for name, value in values.items()),
        "",
    ]
    if differing:
        lines.append(
            "so copy local.settings.example.json to local.settings.json and change those that differ:"
        )
        lines += [f"  {name}" for name in differing]
    else:
        lines.append("local.settings.example.json has them already:")
        lines.append("  cp -n local.settings.example.json local.settings.json")
    lines += [
        "",
        "then, in another shell at the repository root:",
        "  source .venv/bin/activate && func start",
        "",
        "Ctrl-C stops Azurite and the emulator.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev services", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=".localdev", help="Azurite's data and the logs (kept)")
    parser.add_argument("--users", default="demo", help="the emulator's directory (default: demo)")
    for name, port in DEFAULT_PORTS.items():
        parser.add_argument(f"--{name}-port", type=int, default=port, help=f"default {port}")
    args = parser.parse_args(argv)

    ports, notes = choose_ports({name: getattr(args, f"{name}_port") for name in DEFAULT_PORTS})
    data_dir = Path(args.data_dir).resolve()
    azurite = Azurite(
        data_dir / "azurite", port=ports["table"], blob_port=ports["blob"], queue_port=ports["queue"]
    )
    stack = Stack(
        app_dir=REPO_ROOT, users=args.users, data_dir=data_dir, graph_port=ports["graph"], azurite=azurite
    )
    return run_until_stopped(
        stack,
        stack.start_services,
        lambda: banner(stack, notes),
        what="local services",
        parts="Azurite and the Graph emulator",
    )
