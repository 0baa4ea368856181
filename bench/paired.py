"""Round trips to two kitchens at once, this checkout's and another's, interleaved order by order.

`python -m bench.paired OTHER [--round-trips N]` starts one Redis and two prefork workers (as the
bench's drain runs them), one on this checkout's code and one on OTHER's (a `git worktree` of
another commit), each on its own database. It then places N orders on each, one at a time and
taking turns, so that whatever the machine does meanwhile slows both alike, and prints each
side's p50, p90 and p99 and the median of the paired differences. The waiter's side runs this
checkout's code for both: it compares the kitchens.
"""

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from bench.limit import percentile
from bench.procs import KITCHEN_WORKER, ROOT, BenchWorker
from bench.round_trips import paired, take_turns
from bench.workloads import KITCHEN_ENV, timed_order
from tools.redis_server import REDIS_CONF, RedisServer

#: Orders each side places first, not counted.
WARMUP = 20


def _worker(checkout: Path, url: str, log: Path, concurrency: int) -> BenchWorker:
    """Our drain's worker, running the code of `checkout` (celery imports from its cwd)."""
    worker = BenchWorker(KITCHEN_WORKER, concurrency, {**KITCHEN_ENV, "REDIS_URL": url}, log)
    worker.cwd = checkout
    return worker


def _placing(url: str, listener: Any) -> Callable[[int], float]:
    """Place an order through the waiter's code on the kitchen at `url`, heard on `listener`."""

    def place(number: int) -> float:
        os.environ["CELERY_BROKER_URL"] = url
        os.environ["CELERY_RESULT_BACKEND"] = url
        return timed_order(listener, number)

    return place


def _summary(samples: list[float]) -> str:
    return (
        f"p50 {percentile(samples, 50):.3f} ms, p90 {percentile(samples, 90):.3f} ms, "
        f"p99 {percentile(samples, 99):.3f} ms"
    )


def main() -> None:
    """Run both kitchens, take turns placing orders on each, print what each took."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("other", type=Path, help="another checkout of the project")
    parser.add_argument("--round-trips", type=int, default=1000, help="orders per side (1000)")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    checkouts = {"this": ROOT, "other": args.other.resolve()}
    os.environ.update(KITCHEN_ENV)
    with tempfile.TemporaryDirectory(prefix="bench-paired-") as tmp:
        workdir = Path(tmp)
        with RedisServer(None, workdir / "redis", config=REDIS_CONF) as server:
            base = server.url.rsplit("/", 1)[0]
            urls = {"this": f"{base}/2", "other": f"{base}/3"}
            workers = [
                _worker(checkout, urls[side], workdir / f"{side}.log", args.concurrency)
                for side, checkout in checkouts.items()
            ]
            try:
                for worker in workers:
                    worker.start()
                listeners = {
                    side: redis.Redis.from_url(url).pubsub()  # type: ignore[no-untyped-call]
                    for side, url in urls.items()
                }
                samples = take_turns(
                    {side: _placing(urls[side], listeners[side]) for side in checkouts},
                    args.round_trips,
                    warmup=WARMUP,
                )
                for listener in listeners.values():
                    listener.close()
            finally:
                for worker in workers:
                    worker.stop()
    for side, checkout in checkouts.items():
        print(f"{side} ({checkout}): {_summary(samples[side])}")
    pairs = paired(samples["this"], samples["other"])
    print(
        f"this - other, paired: median {pairs['median_difference_ms']:+.3f} ms; this was "
        f"slower in {pairs['ours_slower_rounds']} of {pairs['rounds']} pairs"
    )


if __name__ == "__main__":
    main()
