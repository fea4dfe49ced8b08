"""What every test shares: Hypothesis's profiles. `HYPOTHESIS_PROFILE=ci` (set by .ci/run) selects the CI
one; without it Hypothesis's own choice stands ("ci" where a CI variable is set, else "default")."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# CI: fresh examples on every run (not derandomized), yet every failure reproducible: the run's seed
# (.ci/run passes --hypothesis-seed and prints it) replays the whole run, and the @reproduce_failure blob
# printed with a failure replays that one example. No deadline (a shared runner stalls at random) and no
# example database (a fresh clone has none to keep).
settings.register_profile(
    "ci",
    settings.get_profile("ci"),
    derandomize=False,
    print_blob=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or settings.get_current_profile_name())


def _seed(config: pytest.Config) -> str | None:
    return config.getoption("hypothesis_seed", None)


def pytest_report_header(config: pytest.Config) -> str:
    seed = _seed(config)
    return f"hypothesis: profile {settings.get_current_profile_name()!r}, seed {seed or 'random'}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int) -> None:
    seed = _seed(terminalreporter.config)
    if exitstatus != 0 and seed is not None:
        terminalreporter.write_line(
            f"Hypothesis examples of this run came from seed {seed}: rerun with HYPOTHESIS_SEED={seed} "
            f".ci/run, or pytest --hypothesis-profile={settings.get_current_profile_name()} "
            f"--hypothesis-seed={seed} <test>"
        )
