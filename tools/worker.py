"""A real `celery -A kitchen worker` process (prefork unless told), started and stopped by PID."""

import itertools
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from tools.process import LoggedProcess

_numbers = itertools.count(1)

#: Flags that make a worker start in about half a second: no cluster chatter to wait for.
FAST_START = ("--without-gossip", "--without-mingle", "--without-heartbeat")


class KitchenWorker(LoggedProcess):
    """A kitchen worker logging to a file; `ready()` waits for its "ready." line."""

    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        *,
        concurrency: int = 2,
        pool: str = "prefork",
        name: str | None = None,
        extra_args: tuple[str, ...] = (),
        cwd: Path | None = None,
    ) -> None:
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.name = f"{name or f'kitchen-{os.getpid()}-{next(_numbers)}'}@%h"
        self.command = [
            sys.executable, "-m", "celery", "-A", "kitchen", "worker",
            "--pool", pool, "--concurrency", str(concurrency),
            "--loglevel", "INFO", "--hostname", self.name, *FAST_START, *extra_args,
        ]  # fmt: skip
        self.cwd = cwd or Path(__file__).resolve().parent.parent

    def start(self, timeout: float = 30.0) -> Self:
        """Start the worker and wait until it says it is ready to consume."""
        self.launch(lambda: " ready." in self.log(), timeout, "kitchen worker", append=False)
        return self

    def wait_for_log(self, text: str, timeout: float = 30.0) -> str:
        """Wait until `text` appears in the log; return the log."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.log()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the worker log after {timeout} s")
            time.sleep(0.05)
        return log
