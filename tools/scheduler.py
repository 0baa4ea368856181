"""A real scheduler process (`python -m waiter.scheduler`), started and stopped by PID."""

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from tools.process import LoggedProcess


class Scheduler(LoggedProcess):
    """The scheduler of held orders, logging to a file; `start()` waits for its ready line."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.command = [sys.executable, "-m", "waiter.scheduler"]
        self.cwd = Path(__file__).resolve().parent.parent

    def start(self, timeout: float = 30.0) -> Self:
        """Start the scheduler and wait until it says it is ready."""
        self.launch(lambda: "Scheduler ready" in self.log(), timeout, "scheduler", append=False)
        return self
