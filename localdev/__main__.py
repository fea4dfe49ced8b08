"""`python -m localdev up|services|host|graph`: the whole local stack, Azurite and the Graph emulator alone
(for `func start`), the local host, or the Graph emulator."""

from __future__ import annotations

import sys

USAGE = "usage: python -m localdev {up|services|host|graph} [options]   (--help after one: its options)"


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"up", "services", "host", "graph"}:
        print(USAGE, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "graph":
        from localdev.graph.cli import main as graph_main

        return graph_main(rest)
    if command == "services":
        from localdev.services import main as services_main

        return services_main(rest)
    if command == "host":
        from localdev.host import main as host_main

        return host_main(rest)
    from localdev.stack import main as up_main

    return up_main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
