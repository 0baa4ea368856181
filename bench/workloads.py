"""The workloads, on our system (every order feature on) and on the Celery-defaults baseline.

Each function measures one workload against the Redis at `url` and returns its figures. The
bench process must have REDIS_URL, KITCHEN_MENU and BENCH_BASELINE_URL set in its environment
before these run (bench.__main__ does), since celeryconfig reads them when first imported.
"""

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import redis

from bench.limit import percentile
from bench.procs import (
    BASELINE_WORKER,
    GREEN_BASELINE_WORKER,
    GREEN_KITCHEN_WORKER,
    KITCHEN_WORKER,
    ROOT,
    BenchWorker,
    CpuMeter,
    MemorySampler,
    Profiler,
    SenderCpu,
    WorkersCpu,
)
from restaurant.names import OPEN_KEY, ORDER_CHANNEL

WAITER = str(Path(sys.executable).with_name("waiter"))
CELERY = str(Path(sys.executable).with_name("celery"))
MENU = Path(__file__).resolve().parent / "bench_menu.toml"
#: Our kitchen for the benchmark: the bench menu, no simulated trouble.
KITCHEN_ENV = {
    "KITCHEN_MENU": str(MENU),
    "KITCHEN_FAILURE_RATE": "0",
    "KITCHEN_TROUBLE": "",
    "KITCHEN_SPEED": "1",
}
QUICK_DISH, SLOW_DISH = "Toast", "Stew"  # stations "cold" and "stove" (bench_menu.toml)
Figures = dict[str, Any]


def _wait(done: Callable[[], bool], timeout: float, what: str, every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def _median_wall(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, cwd=ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return times


def latency(samples: list[float]) -> Figures:
    """Percentiles of round trips in ms."""
    return {
        "samples": len(samples),
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(percentile(samples, 99), 3),
        "max_ms": round(max(samples), 3),
    }


# --- Our system ------------------------------------------------------------------------------


def submit(url: str, workdir: Path, count: int) -> tuple[Figures, list[str], bytes]:
    """1. `waiter order --file batch.json` with no worker: orders/s; the ids; one message body."""
    batch = workdir / "batch.json"
    lines = [{"table": 1 + number % 50, "dish": QUICK_DISH} for number in range(count)]
    batch.write_text(json.dumps(lines), encoding="utf-8")
    out = workdir / "submit.out"
    env = {**os.environ, **KITCHEN_ENV, "REDIS_URL": url}
    with (
        redis.Redis.from_url(url) as client,
        out.open("wb") as sink,
        SenderCpu(client) as cpu,
    ):
        queue = "cold"
        started = time.perf_counter()
        waiter = subprocess.Popen([WAITER, "order", "--file", str(batch)], env=env, stdout=sink)
        last_message = None
        while last_message is None:
            queued = client.llen(queue)
            if queued >= count:
                last_message = time.perf_counter()
            elif waiter.poll() is not None and client.llen(queue) < count:
                raise RuntimeError(f"the waiter exited with {waiter.returncode}; {queued} queued")
            else:
                time.sleep(0.001)
        waiter.wait(timeout=600)
        wall = time.perf_counter() - started
        payload = client.lindex(queue, 0)
    if waiter.returncode != 0 or payload is None:
        raise RuntimeError(f"the waiter failed ({waiter.returncode})")
    ids = [line.rsplit(" ", 1)[-1] for line in out.read_text().splitlines() if " created: " in line]
    figures = {
        "orders": count,
        "process_seconds": round(wall, 3),
        "per_s": round(count / wall, 1),
        "per_s_to_last_message": round(count / (last_message - started), 1),
        "message_bytes": len(payload),
        "cpu": cpu.per_order_ms(count),
    }
    return figures, ids, bytes(payload)


def forget_orders(url: str) -> None:
    """Empty our database of submitted orders, for a run that measures no drain."""
    with redis.Redis.from_url(url) as client:
        client.flushdb()


def _ready_times(client: redis.Redis, ids: list[str]) -> list[float]:
    """The time of each order's last event, which must be `ready`."""
    with client.pipeline(transaction=False) as pipe:
        for order_id in ids:
            pipe.lindex(f"restaurant:order:{order_id}:history", -1)
        lasts = pipe.execute()
    times = []
    for raw in lasts:
        event = json.loads(raw) if raw else {}
        if event.get("event") != "ready":
            raise RuntimeError(f"an order did not end ready: {event or 'missing'}")
        times.append(float(event["time"]))
    return times


def _wait_ledger(client: redis.Redis, ids: list[str], timeout: float) -> float:
    """Wait until no order is open in the ledger; return when the last one became ready."""
    _wait(lambda: client.zcard(OPEN_KEY) == 0, timeout, "every order to be ready")
    return max(_ready_times(client, ids))


def kitchen_worker(url: str, workdir: Path, name: str, concurrency: int) -> BenchWorker:
    """Our worker, as the Procfile starts it (not yet started)."""
    env = {**KITCHEN_ENV, "REDIS_URL": url}
    return BenchWorker(KITCHEN_WORKER, concurrency, env, workdir / f"{name}.log")


def busy_worker(url: str, workdir: Path, name: str, concurrency: int) -> BenchWorker:
    """Our worker for long dishes: `-P gevent -c <concurrency>`, every feature on (not started)."""
    env = {**KITCHEN_ENV, "REDIS_URL": url}
    return BenchWorker(GREEN_KITCHEN_WORKER, concurrency, env, workdir / f"{name}.log")


def drain(
    url: str, worker: BenchWorker, ids: list[str], profile: Path | None, profile_seconds: float
) -> Figures:
    """2. Start the worker on the queued orders; orders/s to the last `ready` in the ledger."""
    with redis.Redis.from_url(url) as client, MemorySampler(worker) as memory:
        worker.start()
        cpu = CpuMeter(worker, client)
        cpu.start()
        spies = []
        if profile is not None:
            pids = [worker.pid, *_pool(worker)[:1]]
            for label, pid in zip(("main", "pool"), pids, strict=False):
                spies.append(Profiler(pid, profile / f"drain-{label}.txt", profile_seconds))
        last = _wait_ledger(client, ids, timeout=60 + len(ids) / 20)
        cpu.stop()
        for spy in spies:
            spy.wait()
    count = len(ids)
    return {**_drain_figures(count, last, worker, memory), "cpu": cpu.per_order_ms(count)}


def _pool(worker: BenchWorker) -> list[int]:
    from bench.procs import children  # noqa: PLC0415

    return children(worker.pid)


def timed_order(pubsub: Any, number: int) -> float:
    """Place one quick order in-process, on `pubsub`'s database, and wait until it is ready: ms.

    The waiter's settings come from the environment (REDIS_URL, CELERY_BROKER_URL).
    """
    from restaurant.orders import make_order  # noqa: PLC0415
    from waiter.keys import KeyedOrder  # noqa: PLC0415
    from waiter.placing import place_orders  # noqa: PLC0415

    rules = _order_rules()
    db = int(pubsub.connection_pool.connection_kwargs.get("db", 0))
    fields = {"table": 1 + number % 50, "dish": QUICK_DISH, "ordered_at": time.time()}
    keyed = KeyedOrder(make_order(fields, rules))
    channel = ORDER_CHANNEL.format(db=db, order_id=keyed.order_id)
    pubsub.subscribe(channel)
    _confirmed(pubsub)
    started = time.perf_counter()
    list(place_orders([keyed]))
    _heard_ready(pubsub, keyed.order_id)
    elapsed = (time.perf_counter() - started) * 1000
    pubsub.unsubscribe(channel)
    _confirmed(pubsub)
    return elapsed


@cache
def _order_rules() -> Any:
    """The waiter's rules for an order (menu and tables), read once."""
    from restaurant.menu import load_menu  # noqa: PLC0415
    from restaurant.orders import Rules  # noqa: PLC0415
    from restaurant.settings import load_settings  # noqa: PLC0415

    return Rules(load_menu(), load_settings().tables)


def _confirmed(pubsub: Any) -> None:
    message = pubsub.get_message(timeout=5)
    if message is None or message["type"] not in ("subscribe", "unsubscribe"):
        raise RuntimeError(f"no (un)subscribe confirmation: {message}")


def _heard_ready(pubsub: Any, order_id: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=1.0)
        if message is None or message["type"] != "message":
            continue
        event = json.loads(message["data"])
        if event.get("order_id") == order_id and event.get("event") == "ready":
            return
    raise RuntimeError(f"order {order_id} was not ready within {timeout:g} s")


def busy(url: str, workers: list[BenchWorker], count: int) -> Figures:
    """4. `count` dishes of 1.0 s placed at once on idle workers: first submit to last ready."""
    from restaurant.menu import load_menu  # noqa: PLC0415
    from restaurant.orders import Rules, make_order  # noqa: PLC0415
    from restaurant.settings import load_settings  # noqa: PLC0415
    from waiter.keys import KeyedOrder  # noqa: PLC0415
    from waiter.placing import place_orders  # noqa: PLC0415

    rules = Rules(load_menu(), load_settings().tables)
    with redis.Redis.from_url(url) as client, MemorySampler(*workers) as memory:
        for worker in workers:
            worker.start()
        cpu = WorkersCpu(workers, client)
        started = time.time()
        orders = [
            KeyedOrder(
                make_order({"table": 1 + n % 50, "dish": SLOW_DISH, "ordered_at": started}, rules)
            )
            for n in range(count)
        ]
        ids = [placed.order_id for placed in place_orders(orders)]
        last = _wait_ledger(client, ids, timeout=60 + 2 * count)
        cpu.stop()
    figures = _busy_figures(count, last - started, memory, extrapolate=False)
    return {**figures, "cpu": cpu.per_dish_ms(count)}


def _busy_figures(
    count: int, seconds: float, memory: MemorySampler, *, extrapolate: bool
) -> Figures:
    """The measured time; for a prefork worker also its time x 500/N (it cooks N/c rounds)."""
    figures: Figures = {"dishes": count, "seconds": round(seconds, 3)}
    if extrapolate:
        figures["extrapolated_500_seconds"] = round(seconds * 500 / count, 1)
    figures["memory"] = memory.figures()
    return figures


def compile_ours() -> None:
    """Compile our modules to bytecode, as pip does for an installed package.

    An editable install writes none where PYTHONDONTWRITEBYTECODE is set, and every `waiter`
    process (the submit's, the CLI's) would compile them again at start.
    """
    sources = [
        str(ROOT / name) for name in ("kitchen", "restaurant", "waiter", "board", "celeryconfig.py")
    ]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *sources], check=True)


def cli(url: str, runs: int) -> Figures:
    """5. Whole-process wall time of `waiter order --table 1 --dish Pasta` (shipped menu)."""
    env = {**os.environ, "REDIS_URL": url}
    env.pop("KITCHEN_MENU", None)
    times = _median_wall([WAITER, "order", "--table", "1", "--dish", "Pasta"], env, runs)
    return {"runs": runs, "median_seconds": round(statistics.median(times), 3)}


# --- The baseline: Celery defaults (bench/baseline_app.py), database 1 of the same Redis -------


def baseline_worker(
    url: str, workdir: Path, name: str, concurrency: int, *, guarded: bool = False
) -> BenchWorker:
    """A `celery -A bench.baseline_app worker` with Celery's defaults (not yet started).

    `guarded`: with late acks, a prefetch of one and task events (bench/baseline_app.py).
    """
    env = {"BENCH_BASELINE_URL": url, "BENCH_BASELINE_GUARDED": "1" if guarded else "0"}
    return BenchWorker(BASELINE_WORKER, concurrency, env, workdir / f"{name}.log")


def baseline_submit(url: str, count: int) -> Figures:
    """The default send_task loop from one process, no worker: orders/s."""
    env = {**os.environ, "BENCH_BASELINE_URL": url}
    command = [sys.executable, "-m", "bench.baseline_app", "submit", "--count", str(count)]
    with redis.Redis.from_url(url) as client, SenderCpu(client) as cpu:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        _wait(lambda: client.llen("celery") >= count, 600, "the baseline's messages", 0.001)
        last_message = time.perf_counter()
        out, _ = process.communicate(timeout=600)
        wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError("the baseline submit failed")
    return {
        "orders": count,
        "process_seconds": round(wall, 3),
        "per_s": round(count / wall, 1),
        "per_s_to_last_message": round(count / (last_message - started), 1),
        "per_s_in_loop": round(count / json.loads(out)["loop_seconds"], 1),
        "cpu": cpu.per_order_ms(count),
    }


def _results_done(client: redis.Redis, ids: list[str], timeout: float) -> float:
    """Wait until every task has a result; return when the last one was stored."""
    keys = [f"celery-task-meta-{task_id}" for task_id in ids]
    _wait(lambda: client.exists(*keys) == len(keys), timeout, "every baseline result", 0.05)
    done = []
    for raw in client.mget(keys):
        if raw is None:
            raise RuntimeError("a baseline result vanished")
        stamp = datetime.fromisoformat(json.loads(raw)["date_done"])
        done.append((stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp())
    return max(done)


def baseline_drain(url: str, worker: BenchWorker, count: int) -> Figures:
    """The default worker draining the `count` queued no-op dishes: orders/s to the last result."""
    ids = [f"baseline-{number}" for number in range(count)]
    with redis.Redis.from_url(url) as client, MemorySampler(worker) as memory:
        worker.start()
        cpu = CpuMeter(worker, client)
        cpu.start()
        last = _results_done(client, ids, timeout=60 + count / 20)
        cpu.stop()
    return {**_drain_figures(count, last, worker, memory), "cpu": cpu.per_order_ms(count)}


def baseline_green_worker(url: str, workdir: Path, name: str, concurrency: int) -> BenchWorker:
    """The baseline on the gevent pool, as our busy kitchen runs (not yet started)."""
    return BenchWorker(
        GREEN_BASELINE_WORKER, concurrency, {"BENCH_BASELINE_URL": url}, workdir / f"{name}.log"
    )


def baseline_busy_green(url: str, workers: list[BenchWorker], count: int) -> Figures:
    """`count` one-second dishes sent with send_task to idle gevent workers: to the last result."""
    from bench.baseline_app import submit as send  # noqa: PLC0415

    with redis.Redis.from_url(url) as client, MemorySampler(*workers) as memory:
        for worker in workers:
            worker.start()
        cpu = WorkersCpu(workers, client)
        started = time.time()
        send(count, "green", seconds=1.0)
        last = _results_done(client, [f"green-{n}" for n in range(count)], 60 + 2 * count)
        cpu.stop()
    figures = _busy_figures(count, last - started, memory, extrapolate=False)
    return {**figures, "cpu": cpu.per_dish_ms(count)}


def baseline_busy(url: str, worker: BenchWorker, count: int) -> Figures:
    """`count` one-second dishes sent at once to an idle default worker: to the last result."""
    from bench.baseline_app import submit as send  # noqa: PLC0415

    with redis.Redis.from_url(url) as client, MemorySampler(worker) as memory:
        worker.start()
        started = time.time()
        send(count, "busy", seconds=1.0)
        last = _results_done(client, [f"busy-{n}" for n in range(count)], 60 + 2 * count)
    return _busy_figures(count, last - started, memory, extrapolate=True)


def baseline_cli(url: str, runs: int) -> Figures:
    """Whole-process wall time of `celery -A bench.baseline_app call bench.dish`."""
    env = {**os.environ, "BENCH_BASELINE_URL": url}
    kwargs = json.dumps({"table": 1, "dish": "Pasta"})
    command = [CELERY, "-A", "bench.baseline_app", "call", "bench.dish", "--kwargs", kwargs]
    times = _median_wall(command, env, runs)
    return {"runs": runs, "median_seconds": round(statistics.median(times), 3)}


def _drain_figures(count: int, last: float, worker: BenchWorker, memory: MemorySampler) -> Figures:
    """A drain's rate, from the worker's ready line and from its start, and its memory."""
    return {
        "orders": count,
        "seconds_from_ready": round(last - worker.ready_at, 3),
        "per_s": round(count / (last - worker.ready_at), 1),
        "per_s_from_start": round(count / (last - worker.started_at), 1),
        "startup_seconds": round(worker.ready_at - worker.started_at, 3),
        "memory": memory.figures(),
    }
