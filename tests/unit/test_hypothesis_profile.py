"""The Hypothesis profile CI runs under (tests/conftest.py): fresh examples each run, and a failure that
says how to replay it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]


def test_the_ci_profile_explores_prints_the_blob_and_has_no_deadline_or_database():
    ci = settings.get_profile("ci")
    assert (ci.derandomize, ci.print_blob, ci.deadline, ci.database) == (False, True, None, None)


def test_a_failure_under_the_ci_profile_carries_the_decorator_that_replays_it():
    @settings(settings.get_profile("ci"), max_examples=100)
    @given(st.integers())
    def fails(n: int) -> None:
        assert n < 10

    with pytest.raises(AssertionError) as failed:
        fails()
    notes = "\n".join(getattr(failed.value, "__notes__", []))
    assert "@reproduce_failure(" in notes


@pytest.mark.parametrize(
    ("env", "args", "header"),
    [
        ({"HYPOTHESIS_PROFILE": "ci"}, ["--hypothesis-seed=1234"], "hypothesis: profile 'ci', seed 1234"),
        ({"HYPOTHESIS_PROFILE": "default"}, [], "hypothesis: profile 'default', seed random"),
    ],
    ids=["ci", "default"],
)
def test_hypothesis_profile_selects_the_profile_and_the_run_shows_it_with_its_seed(env, args, header):
    clean = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith("HYPOTHESIS")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--co", *args, __file__],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert header in run.stdout.splitlines(), run.stdout
