"""3. Round trips to our kitchen and to Celery's, all running at once and taking turns.

Three kitchens run side by side, each on its own database of the bench's Redis: ours (every
order feature on), Celery's defaults, and Celery with late acks and task events. Each round
places one order on each, one at a time and in a rotating order, and waits until it is ready.
Whatever the machine does meanwhile slows all three alike, so their ratios hold on a machine
whose speed drifts by half within the hour, which runs minutes apart could not show.
"""

import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import redis
from celery import Celery

from bench.procs import BenchWorker
from bench.workloads import Figures, baseline_worker, kitchen_worker, latency, timed_order

#: Rounds placed first on every kitchen, not counted: connections, scripts, the first fork.
WARMUP = 10
#: The sides, in the order they report.
SIDES = ("ours", "defaults", "guarded")


def _ours(url: str) -> tuple[Callable[[int], float], Callable[[], None]]:
    """Place an order through the waiter's code and hear it ready on its channel: ms."""
    client = redis.Redis.from_url(url)
    pubsub = client.pubsub()  # type: ignore[no-untyped-call]

    def close() -> None:
        pubsub.close()
        client.close()

    return (lambda number: timed_order(pubsub, number)), close


def _celery(url: str) -> tuple[Callable[[int], float], Callable[[], None]]:
    """Send the baseline's dish with Celery's defaults and wait for its result: ms."""
    from bench.baseline_app import DISH, order_kwargs  # noqa: PLC0415

    app = Celery("bench-round-trips", broker=url, backend=url)

    def one(number: int) -> float:
        started = time.perf_counter()
        app.send_task(DISH, kwargs=order_kwargs(number)).get(timeout=30)
        return (time.perf_counter() - started) * 1000

    return one, app.close


def round_trips(urls: dict[str, str], workdir: Path, count: int, concurrency: int) -> Figures:
    """Start the three kitchens on `urls` (a database each), take `count` turns: each's figures.

    Besides each side's percentiles, "paired" holds the median of ours minus Celery's
    defaults, round by round, and how many rounds ours took longer.
    """
    workers: dict[str, BenchWorker] = {
        "ours": kitchen_worker(urls["ours"], workdir, "round-trips", concurrency),
        "defaults": baseline_worker(urls["defaults"], workdir, "baseline-rt", concurrency),
        "guarded": baseline_worker(
            urls["guarded"], workdir, "guarded-rt", concurrency, guarded=True
        ),
    }
    with ExitStack() as stack:
        for worker in workers.values():
            stack.callback(worker.stop)
            worker.start()
        places: dict[str, Callable[[int], float]] = {}
        for side, open_side in (("ours", _ours), ("defaults", _celery), ("guarded", _celery)):
            places[side], close = open_side(urls[side])
            stack.callback(close)
        samples = take_turns(places, count)
    figures: dict[str, Any] = {side: latency(samples[side]) for side in SIDES}
    figures["paired"] = paired(samples["ours"], samples["defaults"])
    return figures


def take_turns(
    places: dict[str, Callable[[int], float]], count: int, warmup: int = WARMUP
) -> dict[str, list[float]]:
    """Place one order on each side per turn, in an order that rotates: each side's ms.

    The first `warmup` turns are not kept.
    """
    sides = list(places)
    samples: dict[str, list[float]] = {side: [] for side in sides}
    for number in range(warmup + count):
        shift = number % len(sides)
        for side in sides[shift:] + sides[:shift]:
            elapsed = places[side](number)
            if number >= warmup:
                samples[side].append(elapsed)
    return samples


def paired(ours: list[float], other: list[float]) -> dict[str, Any]:
    """Ours minus the other side, turn by turn: the median, and how many turns ours was slower."""
    differences = [a - b for a, b in zip(ours, other, strict=True)]
    return {
        "rounds": len(differences),
        "median_difference_ms": round(statistics.median(differences), 3),
        "ours_slower_rounds": sum(difference > 0 for difference in differences),
    }
