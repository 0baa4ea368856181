"""The benchmark still runs: a tiny fan-out with real watchers (figures are not judged here)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_the_fanout_benchmark_runs_and_reports(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--watchers",
            "2",
            "--events",
            "5",
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )

    assert result.returncode == 0, result.stderr
    assert "fan-out: ready -> 2 watchers printing it" in result.stdout
    figures = json.loads(output.read_text())["fanout"]
    assert figures["samples"] == 10
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
