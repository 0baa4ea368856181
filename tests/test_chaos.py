"""Load with chaos at a size that fits the suite: nothing lost, nothing cooked twice."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(600)
def test_chaos_loses_nothing_and_cooks_nothing_twice(tmp_path: Path) -> None:
    output = tmp_path / "chaos.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.chaos", "--orders", "400", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    tally = json.loads(output.read_text())
    assert tally["ok"] is True
    # The 400 and the order placed to see the kitchen work again after the failover.
    assert tally["orders"] == 401
    assert tally["ready"] + tally["dead_lettered"] == 401
    assert tally["missing"] == tally["cooked_twice"] == tally["ready_events_twice"] == 0
    assert tally["queued_left"] == tally["unacked_left"] == 0
    assert tally["resubmitted_placed_again"] == 0
    for step in (
        "SIGKILL chef1",
        "SIGTERM chef2",
        "SIGKILL the Redis master",
        "the sentinels promoted",
        "old master back as a replica",
        "already placed",
    ):
        assert step in result.stdout
    assert set(tally["healed"]) == {
        "worker killed",
        "worker stopped",
        "Redis master lost",
        "old master back as a replica",
    }
