"""The limit: what plain redis-py does with the same payloads on the same Redis, no Celery.

The measuring side runs in the bench process; the other side runs in its own process:
`python -m bench.limit consume|echo|subscribe ...` (it prints "ready" once connected, then a
JSON line of figures when done; `subscribe` prints every message it hears, one per line).
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from bench.procs import SenderCpu, read_status_kb

#: LPUSH pipelined in batches of this many; RPOP takes up to this many at once.
BATCH = 500


def _side(url: str, *args: str) -> subprocess.Popen[str]:
    """Start the other side of a measurement and wait until it is connected."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.limit", *args, "--url", url],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if process.stdout is None or process.stdout.readline().strip() != "ready":
        process.kill()
        raise RuntimeError(f"bench.limit {args[0]} did not start")
    return process


def _finish(process: subprocess.Popen[str]) -> dict[str, float]:
    out, _ = process.communicate(timeout=120)
    if process.returncode != 0:
        raise RuntimeError(f"bench.limit exited with {process.returncode}")
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return figures


@dataclass(frozen=True)
class Throughput:
    """One producer pushing `count` payloads while one consumer pops them."""

    count: int
    push_seconds: float  # the producer's loop alone
    total_seconds: float  # first push to last pop
    consumer_peak_rss_kb: float
    #: CPU per push during the loop: the producer, and Redis (the consumer's pops included)
    cpu: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        """The figures, for the JSON report."""
        return {
            "count": self.count,
            "push_per_s": round(self.count / self.push_seconds, 1),
            "per_s": round(self.count / self.total_seconds, 1),
            "consumer_peak_rss_mb": round(self.consumer_peak_rss_kb / 1024, 1),
            "cpu": self.cpu,
        }


def throughput(url: str, payload: bytes, count: int, *, pipelined: bool) -> Throughput:
    """LPUSH `count` payloads from here while another process BRPOPs them."""
    queue = f"bench-limit-{'pipe' if pipelined else 'one'}"
    mode = "pipe" if pipelined else "one"
    consumer = _side(url, "consume", "--queue", queue, "--count", str(count), "--mode", mode)
    with redis.Redis.from_url(url) as client, SenderCpu(client, own=True) as cpu:
        started = time.time()
        clock = time.perf_counter()
        if pipelined:
            for first in range(0, count, BATCH):
                with client.pipeline(transaction=False) as pipe:
                    for _ in range(min(BATCH, count - first)):
                        pipe.lpush(queue, payload)
                    pipe.execute()
        else:
            for _ in range(count):
                client.lpush(queue, payload)
        push_seconds = time.perf_counter() - clock
    figures = _finish(consumer)
    return Throughput(
        count, push_seconds, figures["last"] - started, figures["hwm_kb"], cpu.per_order_ms(count)
    )


def round_trips(url: str, payload: bytes, count: int) -> list[float]:
    """Ping-pong: LPUSH one payload, the other process BRPOPs it and LPUSHes a reply; in ms."""
    queue, replies = "bench-limit-ping", "bench-limit-pong"
    echo = _side(url, "echo", "--queue", queue, "--count", str(count + 10))
    samples = []
    with redis.Redis.from_url(url) as client:
        for number in range(count + 10):
            started = time.perf_counter()
            client.lpush(queue, payload)
            client.brpop([replies], timeout=10)
            if number >= 10:  # the first ten warm up
                samples.append((time.perf_counter() - started) * 1000)
    _finish(echo)
    return samples


def cli_seconds(url: str, payload: bytes, runs: int) -> list[float]:
    """Whole-process wall time of a Python process that connects and LPUSHes one payload."""
    code = (
        "import redis, sys; redis.Redis.from_url(sys.argv[1]).lpush('bench-limit-cli', sys.argv[2])"
    )
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, url, payload.decode()], check=True)
        times.append(time.perf_counter() - started)
    return times


def percentile(samples: list[float], pct: int) -> float:
    """The pct-th percentile (inclusive method), or the only sample."""
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[pct - 1]


# --- The other side ------------------------------------------------------------------------


def _consume(client: redis.Redis, queue: str, count: int, mode: str) -> None:
    got = 0
    last = 0.0
    while got < count:
        popped = client.brpop([queue], timeout=60)
        if popped is None:
            raise SystemExit("timed out waiting for payloads")
        got += 1
        if mode == "pipe" and got < count:
            more = client.rpop(queue, min(BATCH, count - got)) or []
            got += len(more)
        last = time.time()
    print(json.dumps({"last": last, "hwm_kb": read_status_kb("self", "VmHWM")}), flush=True)


def _echo(client: redis.Redis, queue: str, count: int) -> None:
    for _ in range(count):
        popped = client.brpop([queue], timeout=60)
        if popped is None:
            raise SystemExit("timed out waiting for payloads")
        client.lpush("bench-limit-pong", popped[1])
    print(json.dumps({"hwm_kb": read_status_kb("self", "VmHWM")}), flush=True)


def _subscribe(client: redis.Redis, channel: str) -> None:
    pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    pubsub.subscribe(channel)
    pubsub.get_message(timeout=5)  # the confirmation; the bench counts subscribers itself
    out = sys.stdout.buffer
    for message in pubsub.listen():
        if message["type"] == "message":
            out.write(message["data"] + b"\n")
            out.flush()


def main() -> None:
    """The other side of a limit measurement."""
    parser = argparse.ArgumentParser(prog="python -m bench.limit")
    parser.add_argument("mode", choices=["consume", "echo", "subscribe"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--queue", default="bench-limit")
    parser.add_argument("--channel", default="bench-limit-events")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--mode", dest="how", choices=["one", "pipe"], default="one")
    args = parser.parse_args()
    with redis.Redis.from_url(args.url) as client:
        client.ping()
        if args.mode == "subscribe":
            _subscribe(client, args.channel)
            return
        print("ready", flush=True)
        if args.mode == "consume":
            _consume(client, args.queue, args.count, args.how)
        else:
            _echo(client, args.queue, args.count)


if __name__ == "__main__":
    main()
