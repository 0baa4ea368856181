"""A child process of ours, started and stopped by PID, usable as a context manager."""

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self


class OwnProcess:
    """Base for the servers and workers this project starts: `with Thing(...) as thing:`."""

    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        """Start the process and wait until it is ready."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the process."""
        self.terminate()

    @property
    def pid(self) -> int:
        """The PID of our process (it must have been started)."""
        if self.process is None:
            raise RuntimeError("the process was never started")
        return self.process.pid

    def signal(self, signum: int) -> None:
        """Send `signum` to our process."""
        if self.process is None:
            raise RuntimeError("the process was never started")
        self.process.send_signal(signum)

    def alive(self) -> bool:
        """Say whether the process is still running."""
        return self.process is not None and self.process.poll() is None

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `ready` until it holds; stop and raise if the process dies or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while not ready():
            if not self.alive():
                raise RuntimeError(f"{what}: the process exited")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{what}: not ready in {timeout} s")
            time.sleep(0.05)

    def terminate(self, timeout: float = 20.0) -> None:
        """SIGTERM our process and wait for it; SIGKILL it if it lingers past `timeout`."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class LoggedProcess(OwnProcess):
    """An OwnProcess running `command` with its output in a log file that tests can read."""

    command: list[str]
    env: dict[str, str]
    cwd: Path | None
    log_path: Path

    def launch(self, ready: Callable[[], bool], timeout: float, what: str, *, append: bool) -> None:
        """Start the command, logging to `log_path`, and wait until `ready()`.

        If it never gets ready, the error ends with the tail of the log, which says why.
        """
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab" if append else "wb") as log:
            self.process = subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            self.wait_until(ready, timeout, what)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}:\n{self.log()[-3000:]}") from None

    def log(self) -> str:
        """Return everything the process has logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")
