"""Workers started by PID for the benchmark, their memory, and their profile."""

import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from tools.process import LoggedProcess

ROOT = Path(__file__).resolve().parent.parent
CELERY = str(Path(sys.executable).with_name("celery"))
#: Our worker as the Procfile starts it, with the concurrency of this 2-core host.
KITCHEN_WORKER = ("-A", "kitchen", "worker", "--loglevel", "INFO", "--events", "--concurrency")
#: Our worker for a kitchen of long dishes: the gevent pool, one process, a greenlet per dish.
GREEN_KITCHEN_WORKER = (
    "-A", "kitchen", "worker", "--loglevel", "INFO", "--events",
    "--pool", "gevent", "--concurrency",
)  # fmt: skip
#: The baseline: Celery's defaults (INFO only so that it logs when it is ready).
BASELINE_WORKER = ("-A", "bench.baseline_app", "worker", "--loglevel", "INFO", "--concurrency")
#: The baseline on our busy kitchen's pool: Celery's defaults but for `--pool gevent`.
GREEN_BASELINE_WORKER = (
    "-A", "bench.baseline_app", "worker", "--loglevel", "INFO", "--pool", "gevent",
    "--concurrency",
)  # fmt: skip


def read_status_kb(pid: int | str, field: str) -> float:
    """A field of /proc/<pid>/status in kB (VmRSS, VmHWM); 0 if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return float(line.split()[1])
    return 0.0


def children(pid: int) -> list[int]:
    """The PIDs of a process's children."""
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    except OSError:
        return []
    return [int(child) for child in found.split()]


class BenchWorker(LoggedProcess):
    """`celery <args> -c N -n NAME@%h`, logging to a file; start() waits for "ready."."""

    def __init__(
        self, args: tuple[str, ...], concurrency: int, env: Mapping[str, str], log_path: Path
    ) -> None:
        self.env = {**os.environ, **env}
        self.log_path = log_path
        name = f"bench-{log_path.stem}-{os.getpid()}@%h"
        self.command = [CELERY, *args, str(concurrency), "--hostname", name]
        self.cwd = ROOT
        self.started_at = 0.0
        self.ready_at = 0.0

    def start(self, timeout: float = 60.0) -> Self:
        """Start the worker; note when it started and when it logged that it was ready."""
        self.started_at = time.time()
        self.launch(lambda: " ready." in self.log(), timeout, "bench worker", append=False)
        self.ready_at = _logged_time(self.log(), " ready.") or time.time()
        return self

    def rss_kb(self) -> float:
        """Resident memory of the main process and its pool processes, summed, now."""
        if self.process is None:
            return 0.0
        return sum(read_status_kb(pid, "VmRSS") for pid in [self.pid, *children(self.pid)])

    def hwm_kb(self) -> float:
        """Peak resident memory (VmHWM) of the main process and its pool processes, summed."""
        if self.process is None:
            return 0.0
        return sum(read_status_kb(pid, "VmHWM") for pid in [self.pid, *children(self.pid)])


def _logged_time(log: str, text: str) -> float | None:
    """When Celery logged the line containing `text` ("[2025-01-31 12:00:00,123: INFO/...")."""
    for line in log.splitlines():
        if text in line and line.startswith("["):
            try:
                stamp = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f")
            except ValueError:
                return None
            return stamp.timestamp()
    return None


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds a process has used; 0 if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return 0.0
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def redis_cpu_seconds(client: Any) -> float:
    """CPU seconds the Redis server has used (INFO cpu), user plus system."""
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


class SenderCpu:
    """CPU used per order by a sending process (a child, reaped within) and by Redis.

    `sender` counts this process's reaped children (RUSAGE_CHILDREN), or this process itself
    with `own=True`, from entering to leaving.
    """

    def __init__(self, client: Any, *, own: bool = False) -> None:
        self.client = client
        self.own = own
        self.before = (0.0, 0.0)
        self.used = (0.0, 0.0)

    def _now(self) -> tuple[float, float]:
        if self.own:
            sender = time.process_time()
        else:
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            sender = usage.ru_utime + usage.ru_stime
        return sender, redis_cpu_seconds(self.client)

    def __enter__(self) -> "SenderCpu":
        self.before = self._now()
        return self

    def __exit__(self, *exc: object) -> None:
        after = self._now()
        self.used = (after[0] - self.before[0], after[1] - self.before[1])

    def per_order_ms(self, count: int) -> dict[str, float]:
        """Milliseconds of CPU per order: the sender, Redis, total."""
        sender, server = (1000 * used / count for used in self.used)
        return {
            "sender_ms": round(sender, 4),
            "redis_ms": round(server, 4),
            "total_ms": round(sender + server, 4),
        }


class CpuMeter:
    """CPU used by a worker's main process, its pool processes and Redis, from start to stop.

    Unlike wall time, CPU per order hardly moves when other work shares the machine: it says
    what each order costs, and so how many orders two cores could cook at best.
    """

    def __init__(self, worker: BenchWorker, client: Any) -> None:
        self.worker = worker
        self.client = client
        self.pids: list[int] = []
        self.before: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        main, *pool = self.pids
        return {
            "main": cpu_seconds(main),
            "pool": sum(cpu_seconds(pid) for pid in pool),
            "redis": redis_cpu_seconds(self.client),
        }

    def start(self) -> None:
        """Note the CPU used so far by the (started) worker's processes and by Redis."""
        self.pids = [self.worker.pid, *children(self.worker.pid)]
        self.before = self._now()

    def stop(self) -> None:
        """Note the CPU used since start()."""
        after = self._now()
        self.used = {name: after[name] - self.before[name] for name in after}

    def per_order_ms(self, count: int) -> dict[str, float]:
        """Milliseconds of CPU per order: worker main process, pool processes, Redis, total."""
        figures = {f"{name}_ms": round(1000 * used / count, 3) for name, used in self.used.items()}
        figures["total_ms"] = round(sum(1000 * used / count for used in self.used.values()), 3)
        return figures


class WorkersCpu:
    """CPU used by several started workers (every process of each) and by Redis, in between.

    For the busy kitchen: its dishes start and end in bursts, and the CPU each costs is what
    decides how soon the last one can start and how soon after its second it can be ready.
    """

    def __init__(self, workers: list[BenchWorker], client: Any) -> None:
        self.pids = [pid for worker in workers for pid in [worker.pid, *children(worker.pid)]]
        self.client = client
        self.before = self._now()
        self.used = (0.0, 0.0)

    def _now(self) -> tuple[float, float]:
        workers = sum(cpu_seconds(pid) for pid in self.pids)
        return workers, redis_cpu_seconds(self.client)

    def stop(self) -> None:
        """Note the CPU used since the meter was made."""
        after = self._now()
        self.used = (after[0] - self.before[0], after[1] - self.before[1])

    def per_dish_ms(self, count: int) -> dict[str, float]:
        """Milliseconds of CPU per dish: the workers, Redis, both."""
        workers, redis = (round(1000 * used / count, 3) for used in self.used)
        return {"workers_ms": workers, "redis_ms": redis, "total_ms": round(workers + redis, 3)}


class MemorySampler:
    """Samples the workers' summed VmRSS every `every` seconds in a thread; keeps the peak."""

    def __init__(self, worker: BenchWorker, *more: BenchWorker, every: float = 0.1) -> None:
        self.workers = [worker, *more]
        self.every = every
        self.peak_kb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss_kb(self) -> float:
        return sum(worker.rss_kb() for worker in self.workers)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, self._rss_kb())
            self._stop.wait(self.every)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kb = max(self.peak_kb, self._rss_kb())

    def figures(self) -> dict[str, float]:
        """Peak of the sampled sum, and the sum of each process's own peak (an upper bound)."""
        return {
            "peak_rss_mb": round(self.peak_kb / 1024, 1),
            "sum_of_vmhwm_mb": round(sum(w.hwm_kb() for w in self.workers) / 1024, 1),
        }


class Profiler:
    """py-spy recording a process's stacks (nonblocking), collapsed, into a file."""

    def __init__(self, pid: int, out: Path, seconds: float) -> None:
        self.out = out
        spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
        self.process = subprocess.Popen(
            [spy, "record", "--pid", str(pid), "--nonblocking", "--rate", "200",
             "--duration", str(max(1, int(seconds))), "--format", "raw", "--output", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def wait(self) -> None:
        """Wait for py-spy to write its file."""
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait()


def top_frames(collapsed: Path, limit: int = 15) -> tuple[int, list[tuple[str, int, int]]]:
    """From py-spy's collapsed stacks: samples, and the top frames by inclusive samples.

    Each row is (frame, inclusive samples, self samples).
    """
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(encoding="utf-8").splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        total += count
        frames = [_short(frame) for frame in stack.split(";")[1:]]  # [0] is the process/thread
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            own[frames[-1]] += count
    rows = [(frame, samples, own[frame]) for frame, samples in inclusive.most_common(limit)]
    return total, rows


def _short(frame: str) -> str:
    """'send (kombu/transport/redis.py:123)' -> 'send (kombu/transport/redis.py)'."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"
