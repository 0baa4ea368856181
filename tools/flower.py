"""A real `celery -A kitchen flower` process on a loopback port, started and stopped by PID."""

import base64
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from tools.process import LoggedProcess
from tools.redis_server import free_port
from tools.worker import KitchenWorker

ROOT = Path(__file__).resolve().parent.parent


class Flower(LoggedProcess):
    """Flower started from the project directory (so flowerconfig.py applies), logging to a file."""

    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        *,
        port: int | None = None,
        extra_args: tuple[str, ...] = (),
        cwd: Path = ROOT,
    ) -> None:
        # Only the FLOWER_* variables given here: none leak in from the caller's environment.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("FLOWER_")}
        self.env = {**inherited, **env}
        self.log_path = log_path
        self.port = port or free_port()
        self.command = [
            sys.executable, "-m", "celery", "-A", "kitchen", "flower",
            f"--port={self.port}", *extra_args,
        ]  # fmt: skip
        self.cwd = cwd
        prefix = self.env.get("FLOWER_URL_PREFIX", "").strip("/")
        self.base_url = f"http://127.0.0.1:{self.port}" + (f"/{prefix}" if prefix else "")

    def start(self, timeout: float = 30.0) -> Self:
        """Start Flower and wait until its /healthcheck answers OK."""
        self.launch(self._healthy, timeout, f"Flower on port {self.port}", append=True)
        return self

    def url(self, path: str) -> str:
        """The full URL of a Flower path such as '/api/tasks', with the URL prefix."""
        return self.base_url + path

    def request(
        self, path: str, *, auth: tuple[str, str] | None = None, method: str = "GET"
    ) -> tuple[int, bytes]:
        """Send one HTTP request to Flower; return the status code and the body."""
        headers = {}
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        data = b"" if method == "POST" else None
        request = urllib.request.Request(self.url(path), data, headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                return int(answer.status), bytes(answer.read())
        except urllib.error.HTTPError as error:
            return int(error.code), bytes(error.read())

    def _healthy(self) -> bool:
        try:
            return self.request("/healthcheck") == (200, b"OK")
        except OSError:
            return False


class MonitoredWorker(KitchenWorker):
    """A kitchen worker that also sends heartbeats, so Flower shows it online as in production."""

    def start(self, timeout: float = 30.0) -> Self:
        """Start the worker, with heartbeats, and wait until it is ready."""
        if "--without-heartbeat" in self.command:
            self.command.remove("--without-heartbeat")
        return super().start(timeout)
