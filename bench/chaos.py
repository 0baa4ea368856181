"""Load with chaos: many orders, workers killed and stopped, the Redis master lost; then count.

`python -m bench.chaos --orders 10000` (or `make chaos`): parallel waiters place the orders
from batch files (each line under its own idempotency key) to two workers, on Redis Sentinel
(a master, its replica, three sentinels) and with the default delivery settings. At 30 % of the
orders finished one worker is killed with SIGKILL (its pool processes too) and a replacement
starts; at 50 % the first waiter's batch is placed again (it must place nothing); at 60 % the
other worker gets SIGTERM and a replacement starts; at 80 % the Redis master is SIGKILLed and
the sentinels promote its replica; at 90 % the old master comes back, as a replica. Each fault's
time to heal is printed. At the end everything is counted from the ledger: every order must be
ready, or failed and filed as a dead letter with a reason; none missing, none cooked twice,
every queue empty.
"""

import argparse
import json
import os
import shutil
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

from kitchen.liveness import held_by
from restaurant.connections import bounded_redis
from tools.scheduler import Scheduler
from tools.sentinel import SentinelSet
from tools.worker import KitchenWorker

WAITER = str(Path(sys.executable).with_name("waiter"))
MENU = Path(__file__).resolve().parent / "chaos_menu.toml"
#: A quick kitchen, with every delivery setting at its default.
KITCHEN = {
    "KITCHEN_MENU": str(MENU),
    "KITCHEN_SPEED": "1",
    "KITCHEN_TROUBLE": "",
    "KITCHEN_FAILURE_RATE": "0",
    "RESTAURANT_TABLES": "100",
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
    #: Each order left unfinished: its status and its events.
    unfinished_orders: list[str] = field(default_factory=list)
    #: What each message left unacknowledged at the end was: its order, and who listed it.
    unacked_orders: list[str] = field(default_factory=list)
    #: Seconds each fault took to heal, by fault.
    healed: dict[str, float] = field(default_factory=dict)
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


class Scenario:
    """One chaos run: its servers, workers and orders, and the tally it keeps."""

    def __init__(self, stack: ExitStack, workdir: Path, tally: Tally, timeout: float) -> None:
        self.started = time.monotonic()
        self.workdir = workdir
        self.tally = tally
        self.timeout = timeout
        self.sentinels = stack.enter_context(SentinelSet(workdir / "sentinels"))
        self.env = {**KITCHEN, "REDIS_URL": self.sentinels.url}
        self.client = bounded_redis(self.sentinels.url, 2.0, "chaos", decode_responses=True)
        self.workers: list[KitchenWorker] = []
        stack.callback(_stop_all, self.workers)
        # The scheduler is part of the restaurant: it also sends again what the broker lost.
        self.scheduler = stack.enter_context(Scheduler(self.env, workdir / "scheduler.log"))
        self.done: Callable[[], int] = lambda: 0
        #: The orders placed to see the kitchen work again after the failover.
        self.probes: list[str] = []

    def step(self, text: str) -> None:
        """Note what happened, and when."""
        self.tally.steps.append(f"{_clock(self.started)} {text}")

    def healed(self, fault: str, since: float) -> None:
        """Note how long a fault took to heal."""
        self.tally.healed[fault] = round(time.monotonic() - since, 2)
        self.step(f"{fault}: healed in {self.tally.healed[fault]} s")

    def at(self, share: float) -> None:
        """Wait until this share of the orders is finished."""
        orders = self.tally.orders
        _wait_for(lambda: self.done() >= share * orders, self.timeout, f"{share:.0%} ready")

    def start_worker(self, name: str) -> KitchenWorker:
        """Start one more worker."""
        worker = KitchenWorker(self.env, self.workdir / f"{name}.log", concurrency=2, name=name)
        self.workers.append(worker.start())
        self.step(f"started worker {name}")
        return worker

    def kill_worker(self, worker: KitchenWorker, name: str) -> None:
        """SIGKILL a worker and its pool; healed once its messages are back in their queues."""
        held = held_by(self.client, f"{name}@")
        killed = time.monotonic()
        _kill(worker)
        self.step(f"SIGKILL {name} at {self.done()} ready, holding {held}")
        self.start_worker("chef3")
        _wait_for(lambda: self._held_by(name) == 0, 60, f"{name}'s orders")
        self.healed("worker killed", killed)

    def _held_by(self, name: str) -> int:
        """How many messages the worker holds, as Redis says (-1 while it is away)."""
        try:
            return held_by(self.client, f"{name}@")
        except redis.RedisError:
            return -1

    def place_again(self, batch: Path) -> None:
        """Place a batch again under its keys: it must place nothing."""
        again = subprocess.run(
            [WAITER, "order", "--file", str(batch)],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=True,
        )
        self.tally.resubmitted_placed_again = again.stdout.count(" created: ")
        placed = again.stdout.count(" already placed: ")
        self.step(f"placed batch 1 again at {self.done()} ready: {placed} already placed")

    def stop_worker(self, worker: KitchenWorker, name: str) -> None:
        """SIGTERM a worker; healed once it has finished its dishes and stopped."""
        stopped = time.monotonic()
        worker.signal(signal.SIGTERM)
        self.step(f"SIGTERM {name} at {self.done()} ready")
        self.start_worker("chef4")
        _wait_for(lambda: not worker.alive(), 60, f"{name} to finish its dishes and stop")
        self.healed("worker stopped", stopped)

    def lose_master(self) -> tuple[str, int]:
        """SIGKILL the Redis master; healed once an order placed then is cooked and ready."""
        finished = self.done()
        lost_at = time.monotonic()
        lost = self.sentinels.kill_master()
        self.step(f"SIGKILL the Redis master at {finished} ready")
        new, seconds = self.sentinels.wait_for_failover(lost, timeout=60)
        self.step(f"the sentinels promoted the replica on port {new[1]} in {seconds:.1f} s")
        _wait_for(self._probe, 120, "an order placed after the failover to be ready")
        self.healed("Redis master lost", lost_at)
        return lost

    def _probe(self) -> bool:
        """Place one order and wait for it: True once it is ready (the waiter waits out a
        failover for a while, then says it cannot reach Redis)."""
        probe = subprocess.run(
            # A rush order: taken before the orders queued during the failover.
            [WAITER, "order", "-t", "100", "-d", "Toast", "--rush", "--wait", "--timeout", "60"],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0:
            self.probes += [line.rsplit(" ", 1)[-1] for line in probe.stdout.splitlines()
                            if " created: " in line]  # fmt: skip
        return probe.returncode == 0

    def bring_back(self, address: tuple[str, int]) -> None:
        """Start the old master again; healed once it is the new master's replica."""
        back = time.monotonic()
        self.sentinels.restart(address)
        self.healed("old master back as a replica", back)


def run(orders: int, waiters: int, workdir: Path, timeout: float) -> Tally:
    """Run the whole scenario in `workdir`; return the tally."""
    tally = Tally(orders)
    with ExitStack() as stack:
        chaos = Scenario(stack, workdir, tally, timeout)
        first, second = chaos.start_worker("chef1"), chaos.start_worker("chef2")
        batches = _write_batches(workdir, orders, waiters)
        ids = _place(chaos.env, batches, tally, chaos.started)
        chaos.done = _progress(chaos.client, ids)
        chaos.at(0.3)
        chaos.kill_worker(first, "chef1")
        chaos.at(0.5)
        chaos.place_again(batches[0])
        chaos.at(0.6)
        chaos.stop_worker(second, "chef2")
        chaos.at(0.8)
        lost = chaos.lose_master()
        chaos.at(0.9)
        chaos.bring_back(lost)
        _wait_for_the_end(chaos.done, orders, stall=60)
        # Let the last acknowledgements be settled, and any leftover put back and settled.
        _wait_for(lambda: _leftovers(chaos.client) == (0, 0), 30, "empty queues", fail=False)
        chaos.step("all finished")
        tally.seconds = round(time.monotonic() - chaos.started, 1)
        logs = "".join(worker.log() for worker in chaos.workers)
        # The probe placed after the failover is counted as any order.
        tally.orders += len(chaos.probes)
        _count(chaos.client, ids + chaos.probes, logs, tally)
        tally.lost_in_transit_sent_again = chaos.scheduler.log().count("was lost in transit")
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
            kinds = [json.loads(raw)["event"] for raw in events]
            tally.unfinished_orders.append(f"{order_id} ({status}: {', '.join(kinds)})")
        readies = sum(json.loads(raw)["event"] == "ready" for raw in events)
        tally.ready_events_twice += readies > 1
        tally.cooked_twice += ready_lines[order_id] > 1
    tally.queued_left, tally.unacked_left = _leftovers(client)
    tally.unacked_orders = _unacked_orders(client)


def _unacked_orders(client: redis.Redis) -> list[str]:
    """Each message still unacknowledged: its order id, status and the worker listing it."""
    held = {
        str(tag): str(key).rsplit(":", 1)[-1]
        for key in client.scan_iter("restaurant:kitchen:held:*")
        for tag in client.smembers(key)
    }
    found = []
    for tag, raw in client.hgetall("unacked").items():
        order_id = json.loads(str(raw))[0]["headers"]["id"]
        status = client.hget(f"restaurant:order:{order_id}", "status")
        found.append(f"{order_id} ({status!s}, listed by {held.get(str(tag), 'no worker')})")
    return found


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
        if not tally.ok:
            # The logs of the workers, the scheduler and the servers, to find out why.
            kept = args.output.parent / "chaos-failed"
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(workdir, kept, ignore=shutil.ignore_patterns("*.sock"))
            tally.steps.append(f"the logs are kept in {kept}")
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
