"""Smoke test: the benchmark runs and prints its table (figures are not asserted here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_quick_prints_the_table() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick"], cwd=ROOT, capture_output=True,
                          text=True, timeout=180)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    names = {row.split("|")[1].strip() for row in rows[1:]}
    assert {"start-up, telemetry off", "start-up, telemetry on", "crash exit, endpoint never answers",
            "crash exit, connection refused", "peak memory, telemetry on (a crash reported)"} <= names
    assert "sentry_sdk imported!" not in proc.stdout
