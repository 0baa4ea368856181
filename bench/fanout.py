"""Fan-out: how long a `ready` event takes from being published to each watcher printing it."""

import json
import os
import selectors
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from restaurant.events import Kind, make_event
from restaurant.ledger import Ledger

WAITER = str(Path(sys.executable).with_name("waiter"))
ROOT = Path(__file__).resolve().parent.parent
#: The channel the limit's plain subscribers listen to.
LIMIT_CHANNEL = "bench-limit-events"


@dataclass(frozen=True)
class FanOut:
    """Latencies (ms) from publishing a `ready` event to a watcher printing it, all watchers."""

    watchers: int
    events: int
    samples: list[float]

    @property
    def p50(self) -> float:
        """The median latency, in ms."""
        return statistics.median(self.samples)

    @property
    def p99(self) -> float:
        """The 99th percentile latency, in ms."""
        return statistics.quantiles(self.samples, n=100, method="inclusive")[98]

    def summary(self) -> dict[str, float | int]:
        """The figures, for the JSON report."""
        return {
            "watchers": self.watchers,
            "events": self.events,
            "samples": len(self.samples),
            "p50_ms": round(self.p50, 3),
            "p99_ms": round(self.p99, 3),
            "max_ms": round(max(self.samples), 3),
        }


def measure_fanout(url: str, watchers: int = 10, events: int = 200) -> FanOut:
    """Start `watchers` real `waiter watch --json` processes on the Redis at `url`; publish."""
    env = {**os.environ, "REDIS_URL": url}
    command = [WAITER, "watch", "--json"]
    return _measure(url, [command] * watchers, env, events, through_ledger=True)


def measure_fanout_limit(url: str, watchers: int = 10, events: int = 200) -> FanOut:
    """The limit: `watchers` plain redis-py subscribers printing each message; raw PUBLISH."""
    command = [
        sys.executable, "-m", "bench.limit", "subscribe", "--url", url, "--channel", LIMIT_CHANNEL,
    ]  # fmt: skip
    return _measure(url, [command] * watchers, dict(os.environ), events, through_ledger=False)


def _measure(
    url: str, commands: list[list[str]], env: dict[str, str], events: int, *, through_ledger: bool
) -> FanOut:
    processes = [
        subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
            cwd=ROOT,
        )
        for command in commands
    ]
    try:
        with redis.Redis.from_url(url) as client:
            _wait_for_subscribers(client, len(processes))
            if through_ledger:
                publish = _ledger_publisher(client, events)
            else:
                publish = _raw_publisher(client)
            samples = _publish_and_time(processes, events, publish)
            return FanOut(len(processes), events, samples)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()


def _wait_for_subscribers(client: redis.Redis, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while sum(int(c.get("sub", 0)) > 0 for c in client.client_list()) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {count} watchers subscribed within {timeout} s")
        time.sleep(0.05)


#: Publishes one event of an order ("created" or "ready").
Publish = Callable[[str, str], None]


def _ledger_publisher(client: redis.Redis, events: int) -> Publish:
    """Record events through the ledger (its Lua script publishes them), as the kitchen does."""
    ledger = Ledger(client, retention=600, recent_limit=events + 1)

    def publish(order_id: str, kind: str) -> None:
        if kind == "created":
            ledger.record(make_event(Kind.CREATED, order_id, table=1, dish="Pasta"))
        else:
            ready = make_event(Kind.READY, order_id, table=1, dish="Pasta", attempt=1, worker="b")
            ledger.record(ready)

    return publish


def _raw_publisher(client: redis.Redis) -> Publish:
    """PUBLISH a small JSON event straight to the limit's channel."""

    def publish(order_id: str, kind: str) -> None:
        client.publish(LIMIT_CHANNEL, json.dumps({"order_id": order_id, "event": kind}))

    return publish


def _publish_and_time(
    processes: list[subprocess.Popen[bytes]], events: int, publish: Publish
) -> list[float]:
    """Publish `events` ready events one at a time; time each line each watcher prints."""
    selector = selectors.DefaultSelector()
    buffers: dict[int, bytes] = {}
    for process in processes:
        if process.stdout is None:
            raise RuntimeError("a watcher has no output pipe")
        selector.register(process.stdout, selectors.EVENT_READ)
        buffers[process.stdout.fileno()] = b""
    samples: list[float] = []
    for _ in range(events):
        order_id = str(uuid.uuid4())
        publish(order_id, "created")
        _drain(selector, buffers, order_id, "created", len(processes))
        published = time.perf_counter()
        publish(order_id, "ready")
        arrivals = _drain(selector, buffers, order_id, "ready", len(processes))
        samples.extend((arrived - published) * 1000 for arrived in arrivals)
    selector.close()
    return samples


def _drain(
    selector: selectors.BaseSelector,
    buffers: dict[int, bytes],
    order_id: str,
    kind: str,
    expected: int,
    *,
    timeout: float = 10.0,
) -> list[float]:
    """Read watcher output until each has printed `kind` for `order_id`; return when each did."""
    arrivals: list[float] = []
    deadline = time.monotonic() + timeout
    while len(arrivals) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(arrivals)} of {expected} watchers printed {kind}")
        for key, _ in selector.select(timeout=1.0):
            chunk = os.read(key.fd, 65536)
            now = time.perf_counter()
            buffers[key.fd] += chunk
            *lines, buffers[key.fd] = buffers[key.fd].split(b"\n")
            for line in lines:
                event = json.loads(line)
                if event["order_id"] == order_id and event["event"] == kind:
                    arrivals.append(now)
    return arrivals
