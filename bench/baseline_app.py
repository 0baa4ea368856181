"""The baseline: the same dish task on Celery with its default settings, and nothing else.

Only the broker and result backend URLs are set (from BENCH_BASELINE_URL): prefork, default
prefetch, early acknowledgement, results on, no events, no ledger. `celery -A bench.baseline_app
worker` runs it; `python -m bench.baseline_app submit --count N` sends N dishes the default way.

With BENCH_BASELINE_GUARDED=1 the worker keeps two of our guarantees the way Celery itself
offers them, and nothing else: late acknowledgement with a prefetch of one (a dish in a dead
worker's hands is not lost) and task events (Flower sees every dish). The bench measures it
beside the defaults: what those two cost Celery is part of the floor under our kitchen's figures.
"""

import argparse
import json
import os
import time
from typing import Any

from celery import Celery

URL = os.environ.get("BENCH_BASELINE_URL", "redis://127.0.0.1:6379/1")
DISH = "bench.dish"

app = Celery("baseline", broker=URL, backend=URL)
if os.environ.get("BENCH_BASELINE_GUARDED") == "1":
    app.conf.task_acks_late = True
    app.conf.worker_prefetch_multiplier = 1
    app.conf.worker_send_task_events = True


@app.task(name=DISH)  # type: ignore[untyped-decorator]
def dish(
    table: int, dish: str, note: str | None = None, ordered_at: float | None = None, **extra: Any
) -> dict[str, Any]:
    """Cook for `seconds` (0: return at once) and say what was cooked."""
    seconds = float(extra.get("seconds", 0.0))
    if seconds:
        time.sleep(seconds)
    return {"table": table, "dish": dish, "note": note, "cook_seconds": seconds}


def order_kwargs(number: int, seconds: float = 0.0) -> dict[str, Any]:
    """The same arguments as one of our orders, plus how long the dish cooks."""
    return {
        "table": 1 + number % 50,
        "dish": "Toast",
        "note": None,
        "ordered_at": time.time(),
        "seconds": seconds,
    }


def submit(count: int, prefix: str, seconds: float = 0.0) -> float:
    """Send `count` dishes one by one with `send_task` (task ids prefix-0...); return seconds."""
    started = time.perf_counter()
    for number in range(count):
        app.send_task(DISH, kwargs=order_kwargs(number, seconds), task_id=f"{prefix}-{number}")
    return time.perf_counter() - started


def main() -> None:
    """`submit --count N --prefix P`: send N dishes, print the seconds the loop took as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_app")
    parser.add_argument("command", choices=["submit"])
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--prefix", default="baseline")
    args = parser.parse_args()
    print(json.dumps({"loop_seconds": submit(args.count, args.prefix)}))


if __name__ == "__main__":
    main()
