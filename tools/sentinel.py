"""A Redis Sentinel set on loopback (a master, its replica, three sentinels), started by PID."""

import os
import shutil
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import redis
from redis.sentinel import Sentinel

from tools.process import LoggedProcess, OwnProcess
from tools.redis_server import REDIS_CONF, RedisServer, free_port, redis_executable

#: A server's address as the sentinels give it: (host, port).
Address = tuple[str, int]

HOST = "127.0.0.1"
TILT_PERIOD_MS = 5000


class SentinelServer(LoggedProcess):
    """One `redis-server <file> --sentinel`, with a config file of its own that it rewrites."""

    def __init__(self, port: int, workdir: Path, config: str, password: str | None) -> None:
        self.port = port
        self.workdir = workdir
        self.config = config
        self.password = password
        self.config_path = workdir / "sentinel.conf"
        self.log_path = workdir / "sentinel.log"
        self.command = [redis_executable(), str(self.config_path), "--sentinel"]
        self.env = dict(os.environ)
        self.cwd = workdir

    def start(self, timeout: float = 10.0) -> Self:
        """Write the config file afresh, start the sentinel and wait until it answers PING."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config, encoding="utf-8")
        self.launch(self._answers, timeout, f"sentinel on port {self.port}", append=False)
        return self

    def _answers(self) -> bool:
        client = redis.Redis(
            HOST, self.port, password=self.password, socket_connect_timeout=0.5, socket_timeout=0.5
        )
        try:
            with client:
                return bool(client.ping())
        except redis.RedisError:
            return False


class SentinelSet:
    """`with SentinelSet(workdir) as sentinels:` a master, a replica and three sentinels.

    Every process is started on a free loopback port and stopped by its PID at the end, the
    killed ones included. The data servers run the project's redis.conf (a copy each: sentinels
    send CONFIG REWRITE to the servers they reconfigure) with their port, dir and role on the
    command line.

    The sentinels keep trying a killed server's address for as long as they run, and would
    take whatever Redis comes to listen there for one of theirs (another test's, or another
    set's, which would then obey them). So a killed server's port stays bound, not listening,
    until `restart` or the end.

    A failover takes about 3 s: `down_after_ms` (2 s) to find the master down, then about 1 s
    to agree, elect a leader and promote the replica. Not 1 s: at a failover a sentinel drops
    its links to the servers and takes up to a second to reconnect, so with 1 s it sometimes
    finds the new, healthy master down. A failover that cannot go through (split vote, no good
    replica) is tried again after twice `failover_timeout_ms`.
    """

    master_name = "mymaster"
    quorum = 2

    def __init__(
        self,
        workdir: Path,
        *,
        password: str | None = None,
        sentinel_password: str | None = None,
        down_after_ms: int = 2000,
        failover_timeout_ms: int = 3000,
    ) -> None:
        self.workdir = workdir
        self.password = password
        self.sentinel_password = sentinel_password
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        #: The data server now running (or last run) at each address.
        self.servers: dict[Address, RedisServer] = {}
        self.sentinels: list[SentinelServer] = []
        #: Every process ever started, killed or not, in the order started.
        self._started: list[OwnProcess] = []
        #: A bound socket holding each killed server's port.
        self._held: dict[Address, socket.socket] = {}

    @property
    def sentinel_addresses(self) -> list[Address]:
        """The (host, port) of each sentinel."""
        return [(HOST, sentinel.port) for sentinel in self.sentinels]

    @property
    def url(self) -> str:
        """The sentinel:// URL of database 0, one chunk per sentinel."""
        return self.url_for(0)

    def url_for(self, db: int) -> str:
        """The sentinel:// URL of database `db`, with the data servers' password if any.

        Each chunk carries the database: kombu and Celery read it from the first chunk.
        """
        auth = f":{self.password}@" if self.password else ""
        return ";".join(
            f"sentinel://{auth}{host}:{port}/{db}" for host, port in self.sentinel_addresses
        )

    @property
    def pids(self) -> list[int]:
        """The PID of every process the set has started, including killed and restarted ones."""
        return [process.pid for process in self._started if process.process is not None]

    def start(self, timeout: float = 30.0) -> Self:
        """Start the master, its replica and three sentinels; wait until all see each other."""
        try:
            master = self._start_server(free_port(), replica_of=None)
            replica = self._start_server(free_port(), replica_of=master)
            self._wait_for_link(replica, timeout)
            for number in range(3):
                self._start_sentinel(number, master)
            self._wait_until_watched(timeout)
            if self.master_address() != master:
                raise RuntimeError(f"the sentinels name another master than {master}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process the set started (SIGTERM, then SIGKILL), sentinels first."""
        for process in [*self.sentinels, *self._started]:
            process.terminate(timeout=10.0)
        for held in self._held.values():
            held.close()
        self._held.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def client(self, address: Address, **kwargs: Any) -> redis.Redis:
        """A plain client of the data server at `address`, with its password."""
        return redis.Redis(address[0], address[1], password=self.password, **kwargs)

    @contextmanager
    def sentinel(self, **kwargs: Any) -> Iterator[Sentinel]:
        """A redis-py Sentinel on the three sentinels, its connections closed on exit."""
        manager = Sentinel(  # type: ignore[no-untyped-call]
            self.sentinel_addresses,
            sentinel_kwargs={
                "password": self.sentinel_password,
                "socket_connect_timeout": 1.0,
                "socket_timeout": 1.0,
            },
            password=self.password,
            socket_connect_timeout=1.0,
            socket_timeout=2.0,
            **kwargs,
        )
        try:
            yield manager
        finally:
            for client in manager.sentinels:
                client.close()

    def master_addresses(self) -> list[Address | None]:
        """Each sentinel's answer to GET-MASTER-ADDR-BY-NAME (None where it did not answer)."""
        answers: list[Address | None] = []
        with self.sentinel() as manager:
            for client in manager.sentinels:
                try:
                    found = client.sentinel_get_master_addr_by_name(self.master_name)
                except redis.RedisError:
                    found = None
                answers.append((_text(found[0]), found[1]) if isinstance(found, tuple) else None)
        return answers

    def master_address(self) -> Address:
        """The master's address, as a majority of the sentinels name it."""
        answers = self.master_addresses()
        named = Counter(answer for answer in answers if answer is not None).most_common(1)
        if not named or named[0][1] < self.quorum:
            raise RuntimeError(f"the sentinels do not agree on the master: {answers}")
        return self._ours(named[0][0])

    def kill(self, address: Address) -> None:
        """SIGKILL the data server at `address` and wait until it is gone; keep its port."""
        server = self.servers[address]
        server.signal(signal.SIGKILL)
        if server.process is not None:
            server.process.wait(timeout=10)
        held = socket.socket()
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            held.bind(address)
        except OSError:
            held.close()
        else:
            self._held[address] = held

    def kill_master(self) -> Address:
        """SIGKILL the current master's process, wait until it is gone; return its address."""
        address = self.master_address()
        self.kill(address)
        return address

    def wait_for_failover(
        self, old_address: Address, timeout: float = 30.0
    ) -> tuple[Address, float]:
        """Wait until the sentinels agree on a master other than `old_address` that says so.

        Return the new master's address and the seconds waited.
        """
        started = time.monotonic()
        found: list[Address] = []

        def failed_over() -> bool:
            answers = [answer for answer in self.master_addresses() if answer is not None]
            if len(answers) < self.quorum or len(set(answers)) != 1 or answers[0] == old_address:
                return False
            if self._role(self._ours(answers[0])) != "master":
                return False
            found.append(answers[0])
            return True

        _poll(failed_over, timeout, f"no failover from {old_address}")
        return found[-1], time.monotonic() - started

    def restart(self, address: Address, timeout: float = 30.0) -> None:
        """Start the (killed) server at `address` again, on its dir, as the master's replica.

        It returns once the replica is in sync with the master and every sentinel sees it up.
        """
        old = self.servers[address]
        if old.alive():
            raise RuntimeError(f"the server at {address} is still running")
        master = self.master_address()
        if master == address:
            raise RuntimeError(
                f"the sentinels still name {address} the master: wait for the failover"
            )
        held = self._held.pop(address, None)
        if held is not None:
            held.close()
        self._start_server(address[1], replica_of=master)
        self._wait_for_link(address, timeout)
        _poll(
            lambda: self._replica_seen_up(address),
            timeout,
            f"the sentinels do not see {address} back up",
        )

    def _start_server(self, port: int, replica_of: Address | None) -> Address:
        workdir = self.workdir / f"redis-{port}"
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "redis.conf"
        if not config.exists():
            shutil.copyfile(REDIS_CONF, config)
        # A master waits 5 s by default for more replicas before a diskless full sync.
        extra = ["--repl-diskless-sync-delay", "0"]
        if replica_of is not None:
            extra += ["--replicaof", replica_of[0], str(replica_of[1])]
        if self.password:
            extra += ["--masterauth", self.password]
        server = RedisServer(port, workdir, *extra, password=self.password, config=config)
        self._started.append(server)
        server.start()
        address = (HOST, port)
        self.servers[address] = server
        return address

    def _start_sentinel(self, number: int, master: Address) -> None:
        port = free_port()
        name = self.master_name
        lines = [
            f"port {port}",
            f"bind {HOST}",
            f"sentinel monitor {name} {master[0]} {master[1]} {self.quorum}",
            f"sentinel down-after-milliseconds {name} {self.down_after_ms}",
            f"sentinel failover-timeout {name} {self.failover_timeout_ms}",
            f"sentinel parallel-syncs {name} 1",
        ]
        if self.password:
            lines.append(f"sentinel auth-pass {name} {self.password}")
        if self.sentinel_password:
            # A sentinel that wants a password also needs it to talk to the others.
            lines += [
                f"requirepass {self.sentinel_password}",
                f"sentinel sentinel-pass {self.sentinel_password}",
            ]
        workdir = self.workdir / f"sentinel-{number + 1}"
        sentinel = SentinelServer(port, workdir, "\n".join(lines) + "\n", self.sentinel_password)
        self.sentinels.append(sentinel)
        self._started.append(sentinel)
        sentinel.start()
        # A sentinel whose clock jumps or stalls by 2 s stays in TILT mode, doing nothing,
        # for 30 s; 5 s is enough to refresh what it knows. (SENTINEL DEBUG: Redis 7.0+.)
        client = redis.Redis(HOST, port, password=self.sentinel_password)
        with client as admin, suppress(redis.ResponseError):
            admin.execute_command("SENTINEL", "DEBUG", "tilt-period", TILT_PERIOD_MS)

    def _ours(self, address: Address) -> Address:
        if address not in self.servers:
            raise RuntimeError(
                f"the sentinels name {address}, none of this set's servers: another set's "
                "sentinels have reached this one"
            )
        return address

    def _role(self, address: Address) -> str | None:
        try:
            with self.client(address, socket_connect_timeout=0.5, socket_timeout=0.5) as client:
                role = client.execute_command("ROLE")
        except redis.RedisError:
            return None
        return _text(role[0])

    def _wait_for_link(self, replica: Address, timeout: float) -> None:
        def linked() -> bool:
            with self.client(replica, socket_timeout=1.0) as client:
                info = client.info("replication")
            return bool(info.get("master_link_status") == "up")

        _poll(linked, timeout, f"the replica at {replica} never synced with its master")

    def _wait_until_watched(self, timeout: float) -> None:
        replicas = len(self.servers) - 1
        others = len(self.sentinels) - 1

        def watched() -> bool:
            with self.sentinel() as manager:
                for client in manager.sentinels:
                    state = client.sentinel_master(self.master_name)
                    if not isinstance(state, dict):
                        return False
                    if state["num-slaves"] < replicas or state["num-other-sentinels"] < others:
                        return False
            return True

        _poll(watched, timeout, "the sentinels never saw the replica and each other")

    def _replica_seen_up(self, address: Address) -> bool:
        """Say whether every sentinel would pick the replica at `address` in a failover now."""
        with self.sentinel() as manager:
            for client in manager.sentinels:
                replicas = client.sentinel_slaves(self.master_name)
                seen = [r for r in replicas if (r["ip"], int(r["port"])) == address]
                if not seen or seen[0]["is_sdown"] or seen[0]["is_disconnected"]:
                    return False
                # A sentinel counts a replica's first PING from when it re-added the replica
                # (at the failover): until that PING is answered, a failover would find the
                # replica down, give up and wait twice failover-timeout before trying again.
                if seen[0]["last-ping-sent"] != 0:
                    return False
                if seen[0].get("master-link-status") != "ok":
                    return False
        return True


def _poll(ready: Callable[[], bool], timeout: float, what: str) -> None:
    """Call `ready` every 0.1 s until it holds (a Redis error is a no); raise after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout} s")
        time.sleep(0.1)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
