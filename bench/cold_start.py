"""Benchmark: cold start. How long a fresh Python process takes to import `function_app` (what the
Functions worker does before the first request) and how much memory it then holds, against a bare
`azure.functions` app with one HTTP route, and the app again as deployed, with Application Insights set
(the app then imports and configures Azure Monitor's OpenTelemetry distro for its metrics). Each is
measured in new processes, several times (the median is shown). Not a test: it prints a table, the
headline ratio last.

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


# A syntactically valid connection string to a closed local port: the distro is configured, nothing is sent
# during the import (its exporter sends every 60 s, from a thread).
APP_INSIGHTS = {
    "APPLICATIONINSIGHTS_CONNECTION_STRING": (
        "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"
    )
}


def probe(module: str, cwd: Path, runs: int, extra_env: dict[str, str] | None = None) -> dict[str, float]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("APPLICATIONINSIGHTS_")},
        **(extra_env or {}),
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
    deployed = probe("function_app", REPO_ROOT, args.runs, APP_INSIGHTS)
    print("Cold start: importing the app module in a fresh process (what the Functions worker does first),")
    print(f"median of {args.runs} runs each; memory is the process's peak resident set after the import.")
    print()
    print(f"{'app':<34}{'import s':>10}{'peak MiB':>10}{'modules':>9}")
    rows = (
        ("bare azure.functions, one route", bare),
        ("function_app (this service)", ours),
        ("function_app, App Insights set", deployed),
    )
    for name, r in rows:
        print(f"{name:<34}{r['seconds']:>10.3f}{r['peak_mib']:>10.1f}{r['modules']:>9.0f}")
    print()
    print(
        f"metrics to Application Insights (the distro imported and configured): "
        f"{deployed['seconds'] / ours['seconds']:.2f}x the import time, "
        f"+{deployed['peak_mib'] - ours['peak_mib']:.0f} MiB"
    )
    print(
        f"headline: function_app imports in {ours['seconds']:.2f} s and {ours['peak_mib']:.0f} MiB, "
        f"{ours['seconds'] / bare['seconds']:.1f}x the time and {ours['peak_mib'] / bare['peak_mib']:.1f}x "
        "the memory of a bare azure.functions app"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
