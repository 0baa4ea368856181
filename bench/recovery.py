"""8. Recovery: a worker holding N dishes is SIGKILLed; how soon another worker receives them.

The doomed worker (prefork, prefetch 2) holds every dish, half on the stove and half reserved,
when it and its pool processes are killed at once, as when a machine dies. A spare worker with
room for all of them is already running. The figure is the time from the kill to the last of
the dishes' `received` events by the spare, in the ledger; then every dish must end ready,
once. Celery's defaults have no such figure: their messages wait for the visibility timeout.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import redis

from bench.procs import KITCHEN_WORKER, BenchWorker, children
from bench.workloads import KITCHEN_ENV, WAITER, Figures, _wait
from kitchen.liveness import held_by
from restaurant.ledger import Ledger

DISH = "Braise"  # bench_menu.toml: 12 s on the stove


def recovery(url: str, workdir: Path, count: int) -> Figures:
    """Kill a worker holding `count` dishes; seconds until another worker received each."""
    env = {**KITCHEN_ENV, "REDIS_URL": url}
    doomed = BenchWorker(
        (*KITCHEN_WORKER[:-1], "--prefetch-multiplier", "2", "--concurrency"),
        max(1, count // 2),
        env,
        workdir / "recovery-doomed.log",
    )
    spare = BenchWorker(KITCHEN_WORKER, count, env, workdir / "recovery-spare.log")
    with redis.Redis.from_url(url, decode_responses=True) as client:
        try:
            doomed.start()
            ids = _place(env, count)
            holding = _name(doomed)
            _wait(lambda: held_by(client, holding) == count, 60, "the doomed worker to hold all")
            spare.start()
            pids = [doomed.pid, *children(doomed.pid)]
            killed_at = time.time()
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            spare_name = _name(spare)
            book = Ledger(client, 86_400, 10_000)
            _wait(lambda: _received(book, ids, spare_name) is not None, 60, "the dishes' return")
            received = _received(book, ids, spare_name) or []
            _wait(lambda: all(book.status(i) == "ready" for i in ids), 120, "every dish ready")
            readies = [
                sum(event.event == "ready" for event in book.history(order_id)) for order_id in ids
            ]
        finally:
            doomed.stop()
            spare.stop()
    return {
        "dishes": count,
        "seconds": round(max(received) - killed_at, 2),
        "first_seconds": round(min(received) - killed_at, 2),
        "ready_once": all(n == 1 for n in readies),
        "dead_after_seconds": float(os.environ.get("KITCHEN_DEAD_AFTER") or 6.0),
    }


def _place(env: dict[str, str], count: int) -> list[str]:
    result = subprocess.run(
        [WAITER, "order", "-t", "1", "-d", DISH, "-q", str(count)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.rsplit(" ", 1)[1] for line in result.stdout.splitlines() if "created" in line]


def _name(worker: BenchWorker) -> str:
    return worker.command[worker.command.index("--hostname") + 1].split("@")[0] + "@"


def _received(book: Ledger, ids: list[str], worker: str) -> list[float] | None:
    """When the spare recorded each dish `received`, or None while one is missing."""
    times = []
    for order_id in ids:
        found = [
            event.time
            for event in book.history(order_id)
            if event.event == "received" and (event.worker or "").startswith(worker)
        ]
        if not found:
            return None
        times.append(found[0])
    return times
