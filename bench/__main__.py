"""Run every benchmark in one go, print a table and write the figures as JSON (`make bench`).

One private Redis (never 127.0.0.1:6379) carries three things in turn, so that ratios hold on
a noisy machine: our system with every order feature on (database 0), the limit (plain redis-py
with the same message bodies) and the baseline (the same dish on Celery's defaults, database 1).
The board's workload has database 2 to itself. Last, the round trips run ours, Celery's defaults
and Celery with late acks and task events at once, on databases 0, 1 and 2, taking turns.
"""

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import redis

from bench import limit, workloads
from bench.board import board_speed
from bench.fanout import measure_fanout, measure_fanout_limit
from bench.recovery import recovery
from bench.round_trips import round_trips
from tools.redis_server import REDIS_CONF, RedisServer

#: Sizes of `make bench` (the issue's), and of `--quick` (a smoke run for the tests).
FULL = {"orders": 10_000, "round_trips": 300, "busy": 500, "baseline_busy": 50, "cli_runs": 20,
        "watchers": 10, "events": 200, "recovery": 8, "board_clients": 50}  # fmt: skip
QUICK = {"orders": 200, "round_trips": 20, "busy": 4, "baseline_busy": 4, "cli_runs": 3,
         "watchers": 2, "events": 20, "recovery": 2, "board_clients": 5}  # fmt: skip
#: The workloads, in the order they run; `--only` picks some (the drain needs the submit).
WORKLOADS = ("submit", "drain", "round_trip", "busy", "cli", "fanout", "recovery", "board")
Report = dict[str, Any]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"smoke sizes: {QUICK}")
    parser.add_argument("--orders", type=int, help="orders submitted, then drained (10000)")
    parser.add_argument(
        "--round-trips", type=int, help="turns of single orders to each kitchen at once (300)"
    )
    parser.add_argument("--busy", type=int, help="1-second dishes for the busy kitchen (500)")
    parser.add_argument(
        "--baseline-busy", type=int, help="1-second dishes for the baseline's busy kitchen (50)"
    )
    parser.add_argument(
        "--busy-workers", type=int, default=2, help="gevent workers of our busy kitchen (2)"
    )
    parser.add_argument(
        "--busy-concurrency", type=int, default=250, help="greenlets of each of them (250)"
    )
    parser.add_argument("--cli-runs", type=int, help="runs of the waiter CLI (20)")
    parser.add_argument("--watchers", type=int, help="fan-out subscribers (10)")
    parser.add_argument("--events", type=int, help="fan-out ready events (200)")
    parser.add_argument("--recovery", type=int, help="dishes a killed worker holds (8)")
    parser.add_argument("--board-clients", type=int, help="SSE clients of the board (50)")
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes (2: the cores)")
    parser.add_argument("--profile", type=Path, help="py-spy the drain's worker into this folder")
    parser.add_argument("--profile-seconds", type=float, default=10.0)
    parser.add_argument("--output", type=Path, default=Path(".run/bench.json"))
    parser.add_argument(
        "--only",
        type=_workloads,
        default=WORKLOADS,
        help=f"comma-separated workloads to run, of {','.join(WORKLOADS)} (all)",
    )
    args = parser.parse_args()
    if "drain" in args.only and "submit" not in args.only:
        args.only = ("submit", *args.only)  # the drain cooks the orders the submit queued
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def _workloads(text: str) -> tuple[str, ...]:
    names = tuple(name.strip().replace("-", "_") for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in WORKLOADS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose among {', '.join(WORKLOADS)}, not {text!r}")
    return tuple(name for name in WORKLOADS if name in names)


def _step(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def _ours(url: str, workdir: Path, args: argparse.Namespace) -> Report:
    report: Report = {}
    if "submit" in args.only:
        _step(f"ours: submitting {args.orders} orders from a batch file (no worker)")
        report["submit"], ids, payload = workloads.submit(url, workdir, args.orders)
        report["payload"] = payload.decode()
    if "drain" in args.only:
        with ExitStack() as stack:
            worker = workloads.kitchen_worker(url, workdir, "drain", args.concurrency)
            stack.callback(worker.stop)
            _step(f"ours: draining {len(ids)} orders ({' '.join(worker.command[1:])})")
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
            report["drain"] = workloads.drain(url, worker, ids, args.profile, args.profile_seconds)
            report["drain"]["worker_command"] = shlex.join(["celery", *worker.command[1:]])
    if "busy" in args.only:
        with ExitStack() as stack:
            workers = [
                workloads.busy_worker(url, workdir, f"busy-{n}", args.busy_concurrency)
                for n in range(1, args.busy_workers + 1)
            ]
            for worker in workers:
                stack.callback(worker.stop)
            _step(f"ours: busy kitchen, {args.busy} dishes of 1.0 s")
            report["busy"] = workloads.busy(url, workers, args.busy)
            command = shlex.join(["celery", *workers[0].command[1:]])
            report["busy"]["worker_command"] = command
            report["busy"]["workers"] = len(workers)
    _ours_apart(url, workdir, args, report)
    return report


def _ours_apart(url: str, workdir: Path, args: argparse.Namespace, report: Report) -> None:
    """The workloads that start their own processes: the CLI, fan-out, recovery, the board."""
    if "cli" in args.only:
        _step(f"ours: the waiter CLI, {args.cli_runs} runs")
        report["cli"] = workloads.cli(url, args.cli_runs)
    if "fanout" in args.only:
        _step(f"ours: fan-out to {args.watchers} watchers")
        report["fanout"] = measure_fanout(url, args.watchers, args.events).summary()
    if "recovery" in args.only:
        _step(f"ours: recovery, a worker holding {args.recovery} dishes killed")
        report["recovery"] = recovery(url, workdir, args.recovery)
    if "board" in args.only:
        _step(f"ours: the board, {args.board_clients} SSE clients and a 1,000-ticket snapshot")
        report["board"] = board_speed(url, workdir, args.board_clients, args.events)


def _limit(url: str, payload: bytes | None, args: argparse.Namespace) -> Report:
    report: Report = {}
    if payload is None:  # no submit, so no message body to measure with
        if "fanout" in args.only:
            _step("limit: plain redis-py pub/sub")
            report["fanout"] = measure_fanout_limit(url, args.watchers, args.events).summary()
        return report
    _step("limit: plain redis-py LPUSH/BRPOP, pub/sub and a one-push process")
    report["one_at_a_time"] = limit.throughput(url, payload, args.orders, pipelined=False).as_dict()
    report["pipelined"] = limit.throughput(url, payload, args.orders, pipelined=True).as_dict()
    if "round_trip" in args.only:
        report["round_trip"] = workloads.latency(limit.round_trips(url, payload, args.round_trips))
    if "cli" in args.only:
        cli_times = limit.cli_seconds(url, payload, args.cli_runs)
        report["cli"] = {
            "runs": args.cli_runs,
            "median_seconds": round(statistics.median(cli_times), 3),
        }
    if "fanout" in args.only:
        report["fanout"] = measure_fanout_limit(url, args.watchers, args.events).summary()
    return report


def _baseline(url: str, workdir: Path, args: argparse.Namespace) -> Report:
    report: Report = {}
    if "submit" in args.only:
        _step(f"baseline: submitting {args.orders} dishes with send_task (no worker)")
        report["submit"] = workloads.baseline_submit(url, args.orders)
    if "drain" in args.only:
        report.update(_served(url, workdir, args, "baseline", guarded=False))
        workloads.forget_orders(url)  # the defaults' results would count as the next drain's
        label = "baseline, late acks and task events"
        _step(f"{label}: submitting {args.orders} dishes")
        workloads.baseline_submit(url, args.orders)
        report["guarded"] = _served(url, workdir, args, label, guarded=True)
    if "busy" in args.only:
        with ExitStack() as stack:
            worker = workloads.baseline_worker(url, workdir, "baseline-busy", args.concurrency)
            stack.callback(worker.stop)
            _step(f"baseline: busy kitchen, {args.baseline_busy} dishes of 1.0 s")
            report["busy"] = workloads.baseline_busy(url, worker, args.baseline_busy)
            report["busy"]["worker_command"] = shlex.join(["celery", *worker.command[1:]])
            report["worker_command"] = report["busy"]["worker_command"]
        with ExitStack() as stack:
            workers = [
                workloads.baseline_green_worker(
                    url, workdir, f"baseline-green-{n}", args.busy_concurrency
                )
                for n in range(1, args.busy_workers + 1)
            ]
            for worker in workers:
                stack.callback(worker.stop)
            _step(f"baseline: busy kitchen on gevent, {args.busy} dishes of 1.0 s")
            report["busy_green"] = workloads.baseline_busy_green(url, workers, args.busy)
            report["busy_green"]["worker_command"] = shlex.join(["celery", *workers[0].command[1:]])
            report["busy_green"]["workers"] = len(workers)
    if "cli" in args.only:
        _step(f"baseline: celery call, {args.cli_runs} runs")
        report["cli"] = workloads.baseline_cli(url, args.cli_runs)
    return report


def _served(
    url: str, workdir: Path, args: argparse.Namespace, label: str, *, guarded: bool
) -> Report:
    """A baseline worker draining the dishes queued for it.

    `guarded`: the worker keeps late acks and task events, Celery's own way.
    """
    with ExitStack() as stack:
        name = "baseline-guarded" if guarded else "baseline-drain"
        worker = workloads.baseline_worker(url, workdir, name, args.concurrency, guarded=guarded)
        stack.callback(worker.stop)
        _step(f"{label}: draining ({' '.join(worker.command[1:])})")
        return {
            "drain": workloads.baseline_drain(url, worker, args.orders),
            "worker_command": shlex.join(["celery", *worker.command[1:]]),
        }


def _round_trips(url: str, workdir: Path, args: argparse.Namespace, report: Report) -> None:
    """3. Ours, Celery's defaults and Celery with late acks and task events, taking turns."""
    base = url.rsplit("/", 1)[0]
    urls = {"ours": url, "defaults": f"{base}/1", "guarded": f"{base}/2"}
    for each in urls.values():
        workloads.forget_orders(each)
    _step(f"round trips: {args.round_trips} turns of ours, Celery's defaults and Celery guarded")
    figures = round_trips(urls, workdir, args.round_trips, args.concurrency)
    report["ours"]["round_trip"] = {**figures["ours"], "paired": figures["paired"]}
    report["baseline"]["round_trip"] = figures["defaults"]
    report["baseline"].setdefault("guarded", {})["round_trip"] = figures["guarded"]


# --- The table ---------------------------------------------------------------------------------


def _num(value: float, unit: str = "") -> str:
    if value >= 100:
        return f"{value:,.0f}{unit}"
    return f"{value:.2f}{unit}"


Check = Callable[[float], bool]


def _cpu(drain: Report, *, parts: bool = False) -> str:
    """A drain's CPU per order; with `parts`, split into main process + pool processes + Redis."""
    cpu = drain.get("cpu")
    if not cpu:
        return "n/a"
    if parts:
        return f"{cpu['main_ms']:.2f} + {cpu['pool_ms']:.2f} + {cpu['redis_ms']:.2f} ms"
    return f"{cpu['total_ms']:.2f} ms"


def _busy_cpu(busy: Report) -> str:
    """CPU per dish of a busy kitchen: its workers + Redis, in milliseconds."""
    cpu = busy.get("cpu")
    if not cpu:
        return "n/a"
    return f"{cpu['workers_ms']:.2f} + {cpu['redis_ms']:.2f} ms"


def _sent_cpu(submit: Report) -> str:
    """CPU per order of a submit: the sending process + Redis, in microseconds."""
    cpu = submit.get("cpu")
    if not cpu:
        return "n/a"
    return f"{1000 * cpu['sender_ms']:.0f}+{1000 * cpu['redis_ms']:.0f} us"


def _targets(ours: Report, lim: Report, base: Report) -> dict[str, tuple[str, float, bool]]:
    """Each target of a workload that ran: (what it says, the figure it holds, met).

    Speed and memory are held to the same run's references, as ratios, so that they hold on a
    machine whose speed drifts: Celery's defaults (the baseline) and the one-by-one LPUSH loop
    (the limit). The rest are times a kitchen notices."""

    def get(where: Report, *path: str) -> float | None:
        for key in path:
            if not isinstance(where, dict) or key not in where:
                return None
            where = where[key]
        return float(where) if isinstance(where, int | float) else None

    def ratio(path: tuple[str, ...], reference: Report, ref_path: tuple[str, ...]) -> float | None:
        value, against = get(ours, *path), get(reference, *ref_path)
        return round(value / against, 3) if value is not None and against else None

    rt_p50, rt_p99 = ("round_trip", "p50_ms"), ("round_trip", "p99_ms")
    memory = ("drain", "memory", "peak_rss_mb")
    rows: dict[str, tuple[str, float | None, Check]] = {
        "submit": (">= 1.0x one by one", ratio(("submit", "per_s"), lim,
                   ("one_at_a_time", "push_per_s")), lambda v: v >= 1.0),
        "drain": (">= 1.0x baseline", ratio(("drain", "per_s"), base, ("drain", "per_s")),
                  lambda v: v >= 1.0),
        "round_trip_p50": ("<= 1.0x baseline", ratio(rt_p50, base, rt_p50), lambda v: v <= 1.0),
        "round_trip_p99": ("<= 1.0x baseline", ratio(rt_p99, base, rt_p99), lambda v: v <= 1.0),
        # Measured with the 500 dishes themselves; a smaller N (--quick) cannot meet it.
        "busy": ("<= 1.20 s", get(ours, "busy", "seconds"), lambda v: v <= 1.2),
        "cli": ("< 0.35 s", get(ours, "cli", "median_seconds"), lambda v: v < 0.35),
        "fanout_p99": ("< 5 ms", get(ours, "fanout", "p99_ms"), lambda v: v < 5),
        "recovery": ("< 10 s", get(ours, "recovery", "seconds"), lambda v: v < 10),
        "board_p99": ("< 10 ms", get(ours, "board", "p99_ms"), lambda v: v < 10),
        "snapshot": ("< 50 ms", get(ours, "board", "snapshot_ms"), lambda v: v < 50),
        "memory": ("<= 1.1x baseline", ratio(memory, base, memory), lambda v: v <= 1.1),
    }  # fmt: skip
    targets = {}
    for name, (text, value, check) in rows.items():
        if value is None:
            continue
        met = check(value) and (name != "busy" or ours["busy"]["dishes"] >= 500)
        met = met and (name != "recovery" or ours["recovery"]["ready_once"])
        shown = f"{text}: {value:.2f}x" if "x " in text else text
        targets[name] = (shown, value, met)
    return targets


def _times(ours: Report, reference: Report, workload: str, figure: str) -> str:
    """Ours as a multiple of a reference figure: "ours 0.80x this"."""
    if workload not in ours or workload not in reference:
        return ""
    return f"ours {ours[workload][figure] / reference[workload][figure]:.2f}x this"


def _table(report: Report) -> list[str]:
    ours, lim, base = report["ours"], report["limit"], report["baseline"]
    guarded = base.get("guarded", {})
    targets = _targets(ours, lim, base)

    def verdict(name: str) -> str:
        return ("met" if targets[name][2] else "NOT met") if name in targets else ""

    def target(name: str) -> str:
        return targets[name][0] if name in targets else ""

    def ref(where: Report, workload: str, figure: str, unit: str = "", tail: str = "") -> str:
        if workload not in where:
            return "n/a"
        return f"{_num(where[workload][figure], unit)}{tail}"

    groups: dict[str, list[tuple[str, ...]]] = {}
    if "submit" in ours:
        groups["submit"] = [
            ("1 submit: orders/s, waiter process wall", _num(ours["submit"]["per_s"]),
             ref(lim, "pipelined", "push_per_s", "", " pipelined"),
             ref(base, "submit", "per_s"), target("submit"), verdict("submit")),
            ("  submit: orders/s, start to last queued",
             _num(ours["submit"]["per_s_to_last_message"]),
             ref(lim, "one_at_a_time", "push_per_s", "", " one by one"),
             ref(base, "submit", "per_s_to_last_message"), "", ""),
            ("  submit: CPU per order, sender + Redis", _sent_cpu(ours["submit"]),
             f"{_sent_cpu(lim.get('one_at_a_time', {}))} one by one",
             _sent_cpu(base.get("submit", {})), "", ""),
        ]  # fmt: skip
    if "drain" in ours:
        groups["drain"] = [
            ("2 drain: orders/s, worker ready to last ready", _num(ours["drain"]["per_s"]),
             ref(lim, "one_at_a_time", "per_s", "", " one by one"), ref(base, "drain", "per_s"),
             target("drain"), verdict("drain")),
            ("  drain: orders/s, worker start to last ready",
             _num(ours["drain"]["per_s_from_start"]),
             ref(lim, "pipelined", "per_s", "", " pipelined"),
             ref(base, "drain", "per_s_from_start"), "", ""),
            ("  drain: CPU per order, worker + Redis", _cpu(ours["drain"]), "",
             _cpu(base.get("drain", {})), "", ""),
            ("  drain: Celery, late acks + task events", "", "", ref(guarded, "drain", "per_s"),
             _times(ours, guarded, "drain", "per_s"), ""),
        ]  # fmt: skip
    if "round_trip" in ours:
        groups["round_trip"] = [
            ("3 round trip: p50, submit to ready", _num(ours["round_trip"]["p50_ms"], " ms"),
             ref(lim, "round_trip", "p50_ms", " ms"), ref(base, "round_trip", "p50_ms", " ms"),
             target("round_trip_p50"), verdict("round_trip_p50")),
            ("  round trip: p99", _num(ours["round_trip"]["p99_ms"], " ms"),
             ref(lim, "round_trip", "p99_ms", " ms"), ref(base, "round_trip", "p99_ms", " ms"),
             target("round_trip_p99"), verdict("round_trip_p99")),
            ("  p50: Celery, late acks + task events", "", "",
             ref(guarded, "round_trip", "p50_ms", " ms"),
             _times(ours, guarded, "round_trip", "p50_ms"), ""),
            ("  p99: Celery, late acks + task events", "", "",
             ref(guarded, "round_trip", "p99_ms", " ms"),
             _times(ours, guarded, "round_trip", "p99_ms"), ""),
        ]  # fmt: skip
    if "busy" in ours:
        busy_n, base_n = ours["busy"]["dishes"], base["busy"]["dishes"]
        groups["busy"] = [
            (f"4 busy: 500 x 1 s (ours: N={busy_n}, measured)",
             _num(ours["busy"]["seconds"], " s"), "1.00 s ideal",
             f"{_num(base['busy']['extrapolated_500_seconds'], ' s')} (x500/{base_n})",
             target("busy"), verdict("busy")),
            (f"  busy: baseline measured, N={base_n} x 1 s", "", "",
             _num(base["busy"]["seconds"], " s"), "", ""),
            (f"  busy: baseline on our gevent workers, N={base['busy_green']['dishes']}", "",
             "", _num(base["busy_green"]["seconds"], " s"), "", ""),
            ("  busy: CPU per dish, workers + Redis", _busy_cpu(ours["busy"]), "",
             f"{_busy_cpu(base['busy_green'])} on gevent", "", ""),
        ]  # fmt: skip
    if "cli" in ours:
        groups["cli"] = [
            ("5 CLI: waiter order, median wall", _num(ours["cli"]["median_seconds"], " s"),
             ref(lim, "cli", "median_seconds", " s"), ref(base, "cli", "median_seconds", " s"),
             target("cli"), verdict("cli")),
        ]  # fmt: skip
    if "fanout" in ours:
        groups["fanout"] = [
            ("6 fan-out: p50, ready to each watcher", _num(ours["fanout"]["p50_ms"], " ms"),
             ref(lim, "fanout", "p50_ms", " ms"), "n/a", "", ""),
            ("  fan-out: p99", _num(ours["fanout"]["p99_ms"], " ms"),
             ref(lim, "fanout", "p99_ms", " ms"), "n/a", target("fanout_p99"),
             verdict("fanout_p99")),
        ]  # fmt: skip
    if "recovery" in ours:
        groups["recovery"] = [
            (f"8 recovery: N={ours['recovery']['dishes']} of a killed worker, received",
             _num(ours["recovery"]["seconds"], " s"), "n/a", "3,600 s (timeout)",
             target("recovery"), verdict("recovery")),
        ]  # fmt: skip
    if "board" in ours:
        board = ours["board"]
        groups["board"] = [
            (f"9 board: p50, ready to each of {board['clients']} SSE clients",
             _num(board["p50_ms"], " ms"), "n/a", "n/a", "", ""),
            ("  board: p99", _num(board["p99_ms"], " ms"), "n/a", "n/a", target("board_p99"),
             verdict("board_p99")),
            (f"  board: snapshot of {board['snapshot_tickets']:,} open tickets",
             _num(board["snapshot_ms"], " ms"), "n/a", "n/a", target("snapshot"),
             verdict("snapshot")),
        ]  # fmt: skip
    memory = []
    if "drain" in ours:
        memory.append(
            ("7 memory: worker peak RSS, drain",
             _num(ours["drain"]["memory"]["peak_rss_mb"], " MB"),
             f"{_num(lim['one_at_a_time']['consumer_peak_rss_mb'], ' MB')} consumer",
             _num(base["drain"]["memory"]["peak_rss_mb"], " MB"), target("memory"),
             verdict("memory"))
        )  # fmt: skip
    if "busy" in ours:
        memory.append(
            ("7 memory: worker peak RSS, busy" if not memory else "  memory: worker peak RSS, busy",
             _num(ours["busy"]["memory"]["peak_rss_mb"], " MB"), "",
             _num(base["busy"]["memory"]["peak_rss_mb"], " MB"), "", "")
        )  # fmt: skip
    rows = [row for group in groups.values() for row in group] + memory
    header = ("workload", "ours", "limit (redis-py)", "baseline (Celery)", "target", "")
    widths = (46, 12, 22, 19, 28, 10)
    lines = ["".join(f"{cell:<{width}}" for cell, width in zip(header, widths, strict=True))]
    for row in rows:
        lines.append("".join(f"{cell:<{w}}" for cell, w in zip(row, widths, strict=True)).rstrip())
    return lines


def _notes(report: Report) -> list[str]:
    ours, base = report["ours"], report["baseline"]
    notes = []
    if "drain" in ours:
        notes.append(
            f"ours: {ours['drain']['worker_command']} (Procfile flags, -c = cores here); every "
            "order feature on: ledger, events, results, Flower task events, acks late, prefetch 1"
        )
    if "busy" in ours:
        notes += [
            f"busy kitchen, ours: {ours['busy'].get('workers', 1)} x "
            f"{ours['busy']['worker_command']} (the gevent pool: a process per worker, one "
            "worker per core (--busy-workers), a greenlet per dish, each dish's soft and hard "
            "time limits enforced; every order feature on); measured with "
            f"N={ours['busy']['dishes']} dishes (--busy), nothing extrapolated",
            f"busy kitchen, baseline: {base['busy']['worker_command']} (prefork, Celery "
            f"defaults); measured with N={base['busy']['dishes']} (--baseline-busy); its 500 "
            "figure is N's time x 500/N (prefork -c 2 cooks two at a time, so time grows with N)",
            f"busy kitchen, baseline on gevent: {base['busy_green']['workers']} x "
            f"{base['busy_green']['worker_command']} (Celery's defaults but for the pool, the "
            "shape of ours; its dishes sent with send_task one by one, as the baseline's submit); "
            f"measured with N={base['busy_green']['dishes']}",
        ]
    elif "worker_command" in base:
        notes.append(f"baseline: {base['worker_command']} (bench/baseline_app.py: Celery defaults)")
    if "cpu" in ours.get("busy", {}):
        notes.append(
            "busy CPU per dish: every process of the busy kitchen's workers and the Redis server, "
            "from the workers being ready to the last dish ready (the placing is the bench's, not "
            "counted); two cores give 2,400 ms of CPU in 1.2 s, 4.8 ms for each of 500 dishes"
        )
    if base.get("guarded"):
        notes.append(
            "Celery, late acks + task events: the baseline's worker keeping two of our "
            "guarantees Celery's own way (task_acks_late, prefetch 1, worker_send_task_events) "
            "and nothing else: no ledger, no claim, no batching"
        )
    if "paired" in ours.get("round_trip", {}):
        paired = ours["round_trip"]["paired"]
        notes.append(
            "round trips: ours, Celery's defaults and Celery with late acks + task events running "
            f"at once, a database each, taking turns order by order ({paired['rounds']} rounds "
            "in rotating order); ours minus the defaults, round by round: median "
            f"{paired['median_difference_ms']:+.3f} ms, ours slower in "
            f"{paired['ours_slower_rounds']} of {paired['rounds']}"
        )
    if "submit" in ours:
        notes.append(
            "submit CPU per order, the sending process + the Redis server: the waiter's whole "
            "run (start-up included) and Redis's work for it; the one-by-one loop and its "
            "Redis while it pushes (its consumer's pops included); Celery's send_task process"
        )
    if "drain" in ours:
        notes.append(
            "drain CPU per order, worker main process + pool processes + Redis server: ours "
            f"{_cpu(ours['drain'], parts=True)}, baseline {_cpu(base.get('drain', {}), parts=True)}"
            " (two cores give 2,000 ms of CPU per second: at most 2,000 / total orders/s)"
        )
        notes.append(
            f"drain from start includes worker start-up: ours {ours['drain']['startup_seconds']} "
            f"s, baseline {base['drain']['startup_seconds']} s; the message body is "
            f"{ours['submit']['message_bytes']} bytes"
        )
    if "recovery" in ours:
        figures = ours["recovery"]
        notes.append(
            f"recovery: a prefork worker holding {figures['dishes']} dishes (half on the stove, "
            "half reserved) SIGKILLed with its pool; the spare's first and last `received` "
            f"{figures['first_seconds']} and {figures['seconds']} s after the kill (silent "
            f"{figures['dead_after_seconds']:g} s means dead); every dish ready once: "
            f"{figures['ready_once']}; Celery's defaults wait for the visibility timeout, "
            "3,600 s, not measured"
        )
    memory = {kind: ours[kind]["memory"]["sum_of_vmhwm_mb"] for kind in ("drain", "busy")
              if kind in ours}  # fmt: skip
    if memory:
        sums = ", ".join(f"{kind} {value} MB" for kind, value in memory.items())
        notes.append(
            "memory: summed VmRSS of the worker's main and pool processes, sampled every 0.1 s; "
            f"sum of VmHWM: {sums}"
        )
    return notes


def main() -> None:
    """Measure everything, print the table and save the JSON."""
    args = _arguments()
    started = time.monotonic()
    workloads.compile_ours()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        with RedisServer(None, workdir / "redis", config=REDIS_CONF) as server:
            url = server.url
            base_url = url.rsplit("/", 1)[0] + "/1"
            os.environ.update(
                {**workloads.KITCHEN_ENV, "REDIS_URL": url, "BENCH_BASELINE_URL": base_url}
            )
            ours = _ours(url, workdir, args)
            payload = ours.pop("payload").encode() if "payload" in ours else None
            with redis.Redis.from_url(url) as client:
                client.flushdb()
            lim = _limit(url, payload, args)
            with redis.Redis.from_url(url) as client:
                client.flushdb()
            base = _baseline(base_url, workdir, args)
            if "round_trip" in args.only:
                _round_trips(url, workdir, args, {"ours": ours, "baseline": base})
    report: Report = {
        "when": time.time(),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "command": shlex.join(["python", "-m", "bench", *sys.argv[1:]]),
        "seconds": round(time.monotonic() - started, 1),
        "sizes": {name: getattr(args, name) for name in FULL},
        "busy_workers": args.busy_workers,
        "busy_concurrency": args.busy_concurrency,
        "only": list(args.only),
        "ours": ours,
        "limit": lim,
        "baseline": base,
    }
    report["targets"] = {
        name: {"target": text, "value": value, "met": met}
        for name, (text, value, met) in _targets(ours, lim, base).items()
    }
    for line in [*_table(report), "", *_notes(report)]:
        print(line)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"figures written to {args.output} ({report['seconds']} s in all)")


if __name__ == "__main__":
    main()
