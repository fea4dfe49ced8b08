"""Benchmark: cold start. How long a fresh Python process takes to import `function_app` (what the
Functions worker does before the first request) and how much memory it then holds, against a bare
`azure.functions` app with one HTTP route. Each is measured in new processes, several times (the median
is shown). Not a test: it prints a table, the headline ratio last.

    .venv/bin/python bench/cold_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Runs in the child: import the app module, report seconds and peak resident memory.
PROBE = textwrap.dedent(
    """
    import json, resource, sys, time
    started = time.perf_counter()
    import {module}
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({{"seconds": seconds, "peak_mib": peak_kib / 1024, "modules": len(sys.modules)}}))
    """
)

BARE_APP = textwrap.dedent(
    """
    import azure.functions as func

    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


    @app.route(route="hello")
    def hello(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("hello")
    """
)


def probe(module: str, cwd: Path, runs: int) -> dict[str, float]:
    env = {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "1",
        # The settings function_app checks at import; nothing is contacted before the first request.
        "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
    }
    samples = []
    for _ in range(runs):
        out = subprocess.run(  # noqa: S603  (this interpreter, our own probe)
            [sys.executable, "-c", PROBE.format(module=module)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per app")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as bare_dir:
        (Path(bare_dir) / "bare_app.py").write_text(BARE_APP)
        bare = probe("bare_app", Path(bare_dir), args.runs)
    ours = probe("function_app", REPO_ROOT, args.runs)
    print("Cold start: importing the app module in a fresh process (what the Functions worker does first),")
    print(f"median of {args.runs} runs each; memory is the process's peak resident set after the import.")
    print()
    print(f"{'app':<34}{'import s':>10}{'peak MiB':>10}{'modules':>9}")
    for name, r in (("bare azure.functions, one route", bare), ("function_app (this service)", ours)):
        print(f"{name:<34}{r['seconds']:>10.3f}{r['peak_mib']:>10.1f}{r['modules']:>9.0f}")
    print()
    print(
        f"headline: function_app imports in {ours['seconds']:.2f} s and {ours['peak_mib']:.0f} MiB, "
        f"{ours['seconds'] / bare['seconds']:.1f}x the time and {ours['peak_mib'] / bare['peak_mib']:.1f}x "
        "the memory of a bare azure.functions app"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
