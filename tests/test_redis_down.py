"""A broken broker: a bounded wait, one clear line, exit code 3, and never the password."""

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import WAITER, run_waiter
from tests.watching import wait_until_subscribed
from tools.redis_server import RedisServer, free_port

pytestmark = pytest.mark.e2e

PASSWORD = "s3cret-pass"


@pytest.fixture(scope="module")
def guarded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis that wants a password."""
    workdir: Path = tmp_path_factory.mktemp("guarded")
    with RedisServer(None, workdir, password=PASSWORD) as server:
        yield server


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in [*accepted, listener]:
        conn.close()


def attempt(url: str, *args: str) -> tuple[int, str, float]:
    return attempt_with({"REDIS_URL": url}, *args)


def attempt_with(env: dict[str, str], *args: str) -> tuple[int, str, float]:
    started = time.monotonic()
    result = run_waiter(env, *args)
    elapsed = time.monotonic() - started
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    return result.returncode, result.stderr, elapsed


ORDER = ("order", "--table", "1", "--dish", "Pasta")
STATUS = ("status", "00000000-0000-4000-8000-000000000000")


@pytest.mark.parametrize("args", [ORDER, STATUS, (*ORDER, "--wait")])
def test_nothing_listening(args: tuple[str, ...]) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"

    code, err, elapsed = attempt(url, *args)

    assert code == 3
    assert err.startswith(f"waiter: error: cannot reach Redis at {url}: ")
    assert "Connection refused" in err
    assert elapsed < 5


def test_wrong_password(guarded_redis: RedisServer) -> None:
    url = f"redis://:wrong-{PASSWORD}@127.0.0.1:{guarded_redis.port}/0"

    code, err, elapsed = attempt(url, *ORDER)

    assert code == 3
    assert err.startswith(f"waiter: error: Redis at redis://:**@127.0.0.1:{guarded_redis.port}/0 ")
    assert "refused our credentials" in err
    assert PASSWORD not in err
    assert elapsed < 5


def test_no_password(guarded_redis: RedisServer) -> None:
    url = f"redis://127.0.0.1:{guarded_redis.port}/0"

    code, err, elapsed = attempt(url, *ORDER)

    assert code == 3
    assert err == f"waiter: error: Redis at {url} wants a password; put it in the URL\n"
    assert elapsed < 5


def test_right_password_works(guarded_redis: RedisServer) -> None:
    result = run_waiter({"REDIS_URL": guarded_redis.url}, *ORDER)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Order for table 1 created: ")


@pytest.mark.parametrize("args", [ORDER, STATUS])
def test_a_server_that_never_answers(silent_port: int, args: tuple[str, ...]) -> None:
    url = f"redis://127.0.0.1:{silent_port}/0"

    code, err, elapsed = attempt(url, *args)

    assert code == 3
    assert err.startswith(f"waiter: error: cannot reach Redis at {url}: ")
    assert elapsed < 5


def test_redis_dying_during_wait(tmp_path: Path) -> None:
    server = RedisServer(None, tmp_path).start()
    try:
        waiting = subprocess.Popen(
            [WAITER, "order", "-t", "1", "-d", "Pasta", "--wait", "--timeout", "60"],
            env={**os.environ, "REDIS_URL": server.url},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert waiting.stdout is not None
        assert waiting.stdout.readline().startswith("Order for table 1 created: ")
        # No worker serves this Redis: once subscribed, the waiter waits until Redis dies.
        wait_until_subscribed(waiting, server.url, name="waiter")
    finally:
        server.stop()
    started = time.monotonic()
    _, err = waiting.communicate(timeout=30)

    assert waiting.returncode == 3
    assert err == (
        f"waiter: error: lost Redis at {server.url}: "
        f"Error 111 connecting to 127.0.0.1:{server.port}. Connection refused.\n"
    )
    assert time.monotonic() - started < 5


def test_a_separate_broker_that_is_down_is_named(idle_url: str) -> None:
    broker = f"redis://127.0.0.1:{free_port()}/0"

    code, err, elapsed = attempt_with({"REDIS_URL": idle_url, "BROKER_URL": broker}, *ORDER)

    assert code == 3
    assert err.startswith(f"waiter: error: cannot reach Redis at {broker}: ")
    assert elapsed < 5
    with redis.Redis.from_url(idle_url) as client:
        assert client.dbsize() == 0  # no order recorded as placed
