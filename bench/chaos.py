"""Load with chaos: many orders, workers killed and stopped, Redis restarted; then count.

`python -m bench.chaos --orders 10000` (or `make chaos`): parallel waiters place the orders
from batch files (each line under its own idempotency key) to two workers. At 30 % of the
orders finished one worker is killed with SIGKILL (its pool processes too) and a replacement
starts; at 50 % the first waiter's batch is placed again (it must place nothing); at 60 % the
other worker gets SIGTERM and a replacement starts; at 80 % Redis is restarted. At the end
everything is counted from the ledger: every order must be ready, or failed and filed as a dead
letter with a reason; none missing, none cooked twice, every queue empty.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

import redis

from tools.redis_server import REDIS_CONF, RedisServer
from tools.scheduler import Scheduler
from tools.worker import KitchenWorker

WAITER = str(Path(sys.executable).with_name("waiter"))
MENU = Path(__file__).resolve().parent / "chaos_menu.toml"
#: A quick kitchen whose longest hard limit is 3 s: a dead worker's orders return within 5 s.
KITCHEN = {
    "KITCHEN_MENU": str(MENU),
    "KITCHEN_SPEED": "1",
    "KITCHEN_TROUBLE": "",
    "KITCHEN_FAILURE_RATE": "0",
    "KITCHEN_RETRY_BACKOFF_MAX": "0.5",
    "VISIBILITY_TIMEOUT": "4",
    "BROKER_RESTORE_INTERVAL": "1",
    "KITCHEN_LEASE_SECONDS": "1",
    "KITCHEN_REPORT_PATIENCE": "30",
    "RESTAURANT_TABLES": "100",
    "ORDER_LOST_AFTER": "5",
}
FINAL = ("ready", "failed", "cancelled")


@dataclass
class Tally:
    """What the ledger and the cooks' logs say at the end."""

    orders: int
    ready: int = 0
    dead_lettered: int = 0
    failed_without_letter: int = 0
    missing: int = 0
    unfinished: int = 0
    cooked_twice: int = 0
    ready_events_twice: int = 0
    queued_left: int = 0
    unacked_left: int = 0
    resubmitted_placed_again: int = 0
    lost_in_transit_sent_again: int = 0
    seconds: float = 0.0
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether nothing was lost, duplicated or left behind."""
        return (
            self.ready + self.dead_lettered == self.orders
            and not self.failed_without_letter
            and not self.missing
            and not self.unfinished
            and not self.cooked_twice
            and not self.ready_events_twice
            and not self.queued_left
            and not self.unacked_left
            and not self.resubmitted_placed_again
        )


def run(orders: int, waiters: int, workdir: Path, timeout: float) -> Tally:
    """Run the whole scenario in `workdir`; return the tally."""
    started = time.monotonic()
    tally = Tally(orders)
    with ExitStack() as stack:
        server = stack.enter_context(RedisServer(None, workdir / "redis", config=REDIS_CONF))
        env = {**KITCHEN, "REDIS_URL": server.url}
        client = stack.enter_context(redis.Redis.from_url(server.url, decode_responses=True))
        workers: list[KitchenWorker] = []
        stack.callback(_stop_all, workers)

        def start_worker(name: str) -> KitchenWorker:
            worker = KitchenWorker(env, workdir / f"{name}.log", concurrency=2, name=name)
            workers.append(worker.start())
            tally.steps.append(f"{_clock(started)} started worker {name}")
            return worker

        # The scheduler is part of the restaurant: it also sends again what the broker lost.
        scheduler = stack.enter_context(Scheduler(env, workdir / "scheduler.log"))
        first, second = start_worker("chef1"), start_worker("chef2")
        batches = _write_batches(workdir, orders, waiters)
        ids = _place(env, batches, tally, started)
        done = _progress(client, ids)

        _wait_for(lambda: done() >= 0.3 * orders, timeout, "30 % ready")
        _kill(first)
        tally.steps.append(f"{_clock(started)} SIGKILL chef1 at {done()} ready")
        start_worker("chef3")

        _wait_for(lambda: done() >= 0.5 * orders, timeout, "50 % ready")
        again = subprocess.run(
            [WAITER, "order", "--file", str(batches[0])],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        )
        tally.resubmitted_placed_again = again.stdout.count(" created: ")
        tally.steps.append(
            f"{_clock(started)} placed batch 1 again at {done()} ready: "
            f"{again.stdout.count(' already placed: ')} already placed"
        )

        _wait_for(lambda: done() >= 0.6 * orders, timeout, "60 % ready")
        second.signal(signal.SIGTERM)
        tally.steps.append(f"{_clock(started)} SIGTERM chef2 at {done()} ready")
        start_worker("chef4")

        _wait_for(lambda: done() >= 0.8 * orders, timeout, "80 % ready")
        server.restart()
        tally.steps.append(f"{_clock(started)} restarted Redis at {done()} ready")

        _wait_for_the_end(done, orders, stall=30)
        # Let the sweep bring back any message still unacknowledged, and let it be settled.
        _wait_for(lambda: _leftovers(client) == (0, 0), 20, "empty queues", fail=False)
        tally.steps.append(f"{_clock(started)} all finished")
        tally.seconds = round(time.monotonic() - started, 1)
        logs = "".join(worker.log() for worker in workers)
        _count(client, ids, logs, tally)
        tally.lost_in_transit_sent_again = scheduler.log().count("was lost in transit")
    return tally


def _write_batches(workdir: Path, orders: int, waiters: int) -> list[Path]:
    """Split the orders into one batch file per waiter, each line under its own key."""
    paths = []
    for number in range(waiters):
        lines = [
            {"table": 1 + index % 100, "dish": "Toast", "key": f"chaos-{index}"}
            for index in range(number, orders, waiters)
        ]
        path = workdir / f"batch-{number + 1}.json"
        path.write_text(json.dumps(lines), encoding="utf-8")
        paths.append(path)
    return paths


def _place(env: dict[str, str], batches: list[Path], tally: Tally, started: float) -> list[str]:
    """Run one waiter per batch file, all at once; return every order id they printed."""
    processes = [
        subprocess.Popen(
            [WAITER, "order", "--file", str(batch)],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for batch in batches
    ]
    ids: list[str] = []
    for process in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"a waiter failed: {err.strip()}")
        ids += [line.rsplit(" ", 1)[-1] for line in out.splitlines() if " created: " in line]
    tally.steps.append(f"{_clock(started)} {len(batches)} waiters placed {len(ids)} orders")
    return ids


def _progress(client: redis.Redis, ids: list[str]) -> Callable[[], int]:
    """Return a function counting the orders that are finished (read in one pipeline)."""

    def finished() -> int:
        try:
            with client.pipeline(transaction=False) as pipe:
                for order_id in ids:
                    pipe.hget(f"restaurant:order:{order_id}", "status")
                return sum(status in FINAL for status in pipe.execute())
        except (redis.ConnectionError, redis.TimeoutError):
            return 0  # Redis is restarting

    return finished


def _wait_for(ready: Callable[[], bool], timeout: float, what: str, *, fail: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            if fail:
                raise RuntimeError(f"timed out waiting for {what}")
            return
        time.sleep(0.2)


def _wait_for_the_end(done: Callable[[], int], orders: int, stall: float) -> None:
    """Wait until every order is finished, or until nothing has finished for `stall` s."""
    last, since = -1, time.monotonic()
    while (now := done()) < orders:
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > stall:
            return
        time.sleep(0.2)


def _kill(worker: KitchenWorker) -> None:
    """SIGKILL a worker and its pool processes, as a machine crash would."""
    main = worker.pid
    found = subprocess.run(["pgrep", "-P", str(main)], capture_output=True, text=True, check=False)
    for pid in [main, *map(int, found.stdout.split())]:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.terminate()  # already dead: this only reaps it


def _stop_all(workers: list[KitchenWorker]) -> None:
    for worker in workers:
        worker.stop()


def _leftovers(client: redis.Redis) -> tuple[int, int]:
    """Messages still queued (every queue) and still unacknowledged."""
    try:
        queued = sum(
            client.llen(key)
            for key in client.scan_iter(count=1000)
            if ":" not in key and not key.startswith("_") and client.type(key) == "list"
        )
        return queued, client.hlen("unacked")
    except (redis.ConnectionError, redis.TimeoutError):
        return -1, -1


def _count(client: redis.Redis, ids: list[str], logs: str, tally: Tally) -> None:
    """Count outcomes from the ledger, and cookings from the cooks' logs."""
    ready_lines = Counter(
        line.split("[", 2)[2].split("]", 1)[0]
        for line in logs.splitlines()
        if line.endswith(" is ready.") and line.count("[") >= 2
    )
    letters = client.hgetall("restaurant:dead:letters")
    with client.pipeline(transaction=False) as pipe:
        for order_id in ids:
            pipe.hget(f"restaurant:order:{order_id}", "status")
            pipe.lrange(f"restaurant:order:{order_id}:history", 0, -1)
        replies = pipe.execute()
    for index, order_id in enumerate(ids):
        status, events = replies[2 * index], replies[2 * index + 1]
        if status is None:
            tally.missing += 1
        elif status == "ready":
            tally.ready += 1
        elif status == "failed":
            letter = json.loads(letters.get(order_id, "{}"))
            if letter.get("reason"):
                tally.dead_lettered += 1
                reason = letter["reason"]
                tally.dead_letter_reasons[reason] = tally.dead_letter_reasons.get(reason, 0) + 1
            else:
                tally.failed_without_letter += 1
        else:
            tally.unfinished += 1
        readies = sum(json.loads(raw)["event"] == "ready" for raw in events)
        tally.ready_events_twice += readies > 1
        tally.cooked_twice += ready_lines[order_id] > 1
    tally.queued_left, tally.unacked_left = _leftovers(client)


def _clock(started: float) -> str:
    return f"{time.monotonic() - started:7.1f} s"


def main() -> int:
    """Run the chaos scenario, print the counts and exit 0 only if nothing went wrong."""
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000, help="orders (default 10000)")
    parser.add_argument("--waiters", type=int, default=4, help="parallel waiters (default 4)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per phase at most")
    parser.add_argument("--output", type=Path, default=Path(".run/chaos.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chaos-") as workdir:
        tally = run(args.orders, args.waiters, Path(workdir), args.timeout)
    for step in tally.steps:
        print(step)
    figures = {name: value for name, value in asdict(tally).items() if name != "steps"}
    for name, value in figures.items():
        print(f"{name:<28}{value}")
    print("PASS: nothing lost, nothing cooked twice" if tally.ok else "FAIL")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({**figures, "ok": tally.ok}, indent=2) + "\n")
    return 0 if tally.ok else 1


if __name__ == "__main__":
    sys.exit(main())
