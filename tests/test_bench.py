"""The benchmark still runs: a smoke size of every workload (figures are not judged here)."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

WORKLOADS = ("submit", "drain", "round_trip", "busy", "cli", "fanout", "recovery", "board")
LIMIT = ("one_at_a_time", "pipelined", "round_trip", "cli", "fanout")
BASELINE = ("submit", "drain", "round_trip", "busy", "busy_green", "cli")
#: Figures that may be zero or below: ours against the defaults, turn by turn (checked apart).
SIGNED = ("median_difference_ms", "ours_slower_rounds")


def _positive_numbers(figures: dict[str, object], where: str) -> None:
    numbers = {
        name: value
        for name, value in figures.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and name not in SIGNED
    }
    assert numbers, f"{where} holds no figures"
    for name, value in numbers.items():
        assert value > 0, f"{where}.{name} is {value}"
    for name, nested in figures.items():
        if isinstance(nested, dict):
            _positive_numbers(nested, f"{where}.{name}")


@pytest.mark.timeout(200)
def test_the_quick_benchmark_runs_every_workload_and_both_references(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(output.read_text())
    for name in WORKLOADS:
        _positive_numbers(report["ours"][name], f"ours.{name}")
    for name in LIMIT:
        _positive_numbers(report["limit"][name], f"limit.{name}")
    for name in BASELINE:
        _positive_numbers(report["baseline"][name], f"baseline.{name}")
    # Celery keeping late acks and task events its own way: the floor beside the defaults.
    for name in ("drain", "round_trip"):
        _positive_numbers(report["baseline"]["guarded"][name], f"baseline.guarded.{name}")
    for kind in ("drain", "busy"):
        assert report["ours"][kind]["memory"]["peak_rss_mb"] > 0
        assert report["baseline"][kind]["memory"]["peak_rss_mb"] > 0
    for where in (report["ours"], report["baseline"]):
        cpu = where["drain"]["cpu"]
        assert cpu["main_ms"] > 0 and cpu["pool_ms"] > 0 and cpu["redis_ms"] > 0, cpu
        parts = cpu["main_ms"] + cpu["pool_ms"] + cpu["redis_ms"]
        assert cpu["total_ms"] == pytest.approx(parts, abs=0.005)
    # Submitting: the sending process and Redis, for ours, the one-by-one loop and Celery's.
    for sent in (
        report["ours"]["submit"]["cpu"],
        report["limit"]["one_at_a_time"]["cpu"],
        report["baseline"]["submit"]["cpu"],
    ):
        assert sent["sender_ms"] > 0 and sent["redis_ms"] > 0, sent
        parts = sent["sender_ms"] + sent["redis_ms"]
        assert sent["total_ms"] == pytest.approx(parts, abs=0.0005)
    # The busy kitchens' CPU per dish, ours and Celery's on the same gevent workers.
    for busy in (report["ours"]["busy"], report["baseline"]["busy_green"]):
        cpu = busy["cpu"]
        assert cpu["total_ms"] == pytest.approx(cpu["workers_ms"] + cpu["redis_ms"], abs=0.002)
    # The round trips took turns: as many of each kitchen's, paired with the defaults'.
    paired = report["ours"]["round_trip"]["paired"]
    assert paired["rounds"] == 20
    assert 0 <= paired["ours_slower_rounds"] <= 20
    assert math.isfinite(paired["median_difference_ms"]), paired
    for where in (report["ours"], report["baseline"], report["baseline"]["guarded"]):
        assert where["round_trip"]["samples"] == 20
    assert report["ours"]["fanout"]["samples"] == 2 * 20
    assert set(report["targets"]) == {
        "submit", "drain", "round_trip_p50", "round_trip_p99", "busy", "cli", "fanout_p99",
        "recovery", "board_p99", "snapshot", "memory",
    }  # fmt: skip
    board = report["ours"]["board"]
    assert board["samples"] == 5 * 20 and board["snapshot_tickets"] == 1_000
    assert report["ours"]["recovery"]["ready_once"] is True
    assert all(isinstance(target["met"], bool) for target in report["targets"].values())
    # The table names every workload, with the target and whether it is met.
    for label in (
        "1 submit",
        "2 drain",
        "3 round trip",
        "4 busy",
        "5 CLI",
        "6 fan-out",
        "8 recovery",
        "9 board",
        "7 memory",
        "submit: CPU per order, sender + Redis",
        "drain: Celery, late acks + task events",
        "p50: Celery, late acks + task events",
        "busy: CPU per dish, workers + Redis",
        "round trips: ours, Celery's defaults and Celery with late acks + task events",
    ):
        assert label in result.stdout
    assert "N=4" in result.stdout
    assert "busy: baseline on our gevent workers, N=4" in result.stdout


@pytest.mark.timeout(120)
def test_the_paired_round_trips_run_two_kitchens_taking_turns() -> None:
    # This checkout against itself: both kitchens answer every order, and each side is timed.
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-m", "bench.paired", str(root), "--round-trips", "6"],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
        cwd=root,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    this, other, paired = result.stdout.strip().splitlines()[-3:]
    assert this.startswith(f"this ({root}): p50 ") and other.startswith(f"other ({root}): p50 ")
    assert paired.startswith("this - other, paired: median ")
    assert paired.endswith("of 6 pairs")
