"""Fixtures: a private Redis, a real prefork kitchen worker, and the real `waiter` program."""

import importlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery

import celeryconfig
from tools.redis_server import RedisServer
from tools.worker import KitchenWorker

WAITER = str(Path(sys.executable).with_name("waiter"))
CREATED = re.compile(r"^Order for table (\d+) created: ([0-9a-f-]{36})$", re.MULTILINE)

#: The test kitchen: twenty times faster than the menu, with trouble forced on some dishes.
#: Burger: the grill is busy for two attempts, then fine.   Steak: short of meat, always.
#: Soup: cooks past its soft limit.                         Fries: a stuck pot, past its hard limit.
TEST_KITCHEN = {
    "KITCHEN_SPEED": "20",
    "KITCHEN_TROUBLE": "Burger=busy:2,Steak=short,Soup=slow,Fries=stuck",
    "KITCHEN_RETRY_BACKOFF": "0.05",
    "KITCHEN_RETRY_BACKOFF_MAX": "0.2",
    "KITCHEN_FAILURE_RATE": "0",
}

Waiter = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of the suite's own on a free port (never the machine's shared one)."""
    with RedisServer(None, tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def kitchen_env(redis_server: RedisServer) -> dict[str, str]:
    """Environment for the worker and the waiter: our Redis, database 0, the test kitchen."""
    return {**TEST_KITCHEN, "REDIS_URL": redis_server.url}


@pytest.fixture(scope="session")
def worker(
    kitchen_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KitchenWorker]:
    """A real `celery -A kitchen worker` with the prefork pool, shared by the suite."""
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with KitchenWorker(kitchen_env, log, concurrency=2) as running:
        yield running


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client on database 0, where the worker listens."""
    with redis.Redis.from_url(redis_server.url) as client:
        yield client


def empty_database(redis_server: RedisServer, db: int) -> str:
    """Empty one numbered database of the suite's Redis and return its URL."""
    url = f"redis://127.0.0.1:{redis_server.port}/{db}"
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return url


@pytest.fixture
def idle_url(redis_server: RedisServer) -> str:
    """A database no worker listens on, emptied first, so the queue can be inspected."""
    return empty_database(redis_server, 1)


def run_waiter(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the installed `waiter` program as a user would."""
    return subprocess.run(
        [WAITER, *args],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def waiter(kitchen_env: dict[str, str], worker: KitchenWorker) -> Waiter:
    """Run `waiter` against the suite's Redis, with a worker serving it."""

    def run(
        *args: str, stdin: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return run_waiter(kitchen_env, *args, stdin=stdin, timeout=timeout)

    return run


@pytest.fixture
def raw_sender(kitchen_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Celery]:
    """A Celery client that sends whatever it is given, as a message from anywhere could."""
    monkeypatch.setenv("REDIS_URL", kitchen_env["REDIS_URL"])
    app = Celery("raw-sender")
    app.config_from_object(importlib.reload(celeryconfig))
    yield app
    app.close()


def created_ids(stdout: str) -> list[str]:
    """The order ids a `waiter order` run printed, in order."""
    return [order_id for _, order_id in CREATED.findall(stdout)]


@pytest.fixture(scope="session")
def rabbitmq_url() -> Iterator[str]:
    """A private vhost on the machine's RabbitMQ (127.0.0.1:5672), deleted at the end."""
    from tools.rabbitmq import RabbitVhost

    with RabbitVhost() as vhost:
        yield vhost.url


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_env(
    request: pytest.FixtureRequest, redis_server: RedisServer
) -> Iterator[dict[str, str]]:
    """A fresh Redis database (9) for results and events, and as broker Redis or RabbitMQ."""
    url = f"redis://127.0.0.1:{redis_server.port}/9"
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    env = {**TEST_KITCHEN, "REDIS_URL": url}
    if request.param == "rabbitmq":
        env["BROKER_URL"] = request.getfixturevalue("rabbitmq_url")
    yield env
