"""Helpers for the tests of stations, rush orders and held orders: workers, ledger reads."""

import json
import time
from pathlib import Path
from typing import Any

import redis

from restaurant.ledger import Ledger
from restaurant.records import OrderRecord
from tools.worker import KitchenWorker


def ledger(env: dict[str, str]) -> Ledger:
    """The ledger of a test's Redis database."""
    return Ledger(redis.Redis.from_url(env["REDIS_URL"]), 86_400, 10_000)


def chef(
    env: dict[str, str], tmp_path: Path, name: str, *queues: str, concurrency: int = 1
) -> KitchenWorker:
    """A named worker (`-n name@%h`), on some stations only when `queues` are given."""
    extra = ("--queues", ",".join(queues)) if queues else ()
    log = tmp_path / f"{name}.log"
    return KitchenWorker(env, log, concurrency=concurrency, name=name, extra_args=extra)


def wait_all(
    env: dict[str, str], order_ids: list[str], status: str = "ready", timeout: float = 30
) -> list[OrderRecord]:
    """Wait until every order has `status`; return their records, histories included."""
    book = ledger(env)
    deadline = time.monotonic() + timeout
    while True:
        records = [book.order(order_id) for order_id in order_ids]
        if all(record is not None and record.status == status for record in records):
            return [record for record in records if record is not None]
        statuses = [record.status if record else None for record in records]
        assert time.monotonic() < deadline, f"not all {status} after {timeout} s: {statuses}"
        time.sleep(0.1)


def event_time(record: OrderRecord, kind: str) -> float:
    """When the order's (first) event of this kind happened."""
    return next(event.time for event in record.history if event.event == kind)


def kinds(record: OrderRecord) -> list[str]:
    """The kinds of the order's events, in order."""
    return [str(event.event) for event in record.history]


def orders_json(result: Any) -> list[dict[str, Any]]:
    """The records printed by `waiter orders --json`."""
    assert result.returncode == 0, result.stderr
    records: list[dict[str, Any]] = json.loads(result.stdout)
    return records
