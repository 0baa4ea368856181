"""Flower's task events from a real cook: every one published, gathered into batches."""

import ast
import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import TEST_KITCHEN, created_ids, run_waiter
from tools.worker import KitchenWorker

#: Celery's worker events for an order that is cooked at once.
WORKER_EVENTS = ["task-received", "task-started", "task-succeeded"]


def decoded(message: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The routing key of a published kombu message and the events it carries."""
    envelope = json.loads(message["data"])
    body = json.loads(base64.b64decode(envelope["body"]))
    routing_key = envelope["properties"]["delivery_info"]["routing_key"]
    return routing_key, body if isinstance(body, list) else [body]


@pytest.mark.parametrize("pool", ["prefork", "gevent"])
def test_a_cooks_task_events_are_published_together_and_none_is_lost(
    idle_url: str, tmp_path: Path, pool: str
) -> None:
    # A cook of its own, on a database of its own, gathering its events for 0.2 s at a time.
    env = {**TEST_KITCHEN, "REDIS_URL": idle_url, "KITCHEN_EVENT_BATCH": "0.2"}
    with (
        KitchenWorker(env, tmp_path / "worker.log", concurrency=2, pool=pool),
        redis.Redis.from_url(idle_url) as client,
        client.pubsub() as pubsub,
    ):
        pubsub.psubscribe("/1.celeryev/task.*")
        pubsub.get_message(timeout=5)  # the subscription's confirmation
        placed = run_waiter(
            env, "order", "--table", "12", "--dish", "Salad", "--quantity", "6", "--wait"
        )
        assert placed.returncode == 0, placed.stderr
        ids = created_ids(placed.stdout)
        heard: dict[str, list[str]] = {order_id: [] for order_id in ids}
        batches = []
        results: dict[str, str] = {}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
            len(kinds) < len(WORKER_EVENTS) for kinds in heard.values()
        ):
            message = pubsub.get_message(timeout=0.5)
            if message is None or message["type"] != "pmessage":
                continue
            routing_key, events = decoded(message)
            worker_events = [event for event in events if event["type"] != "task-sent"]
            if worker_events:
                batches.append((routing_key, len(worker_events)))
            for event in worker_events:
                heard.setdefault(event["uuid"], []).append(event["type"])
                if event["type"] == "task-succeeded":
                    results[event["uuid"]] = event["result"]

    assert all(heard[order_id] == WORKER_EVENTS for order_id in ids), heard
    # Flower shows each dish's result as the text of its dict, as Celery's saferepr makes it.
    for order_id in ids:
        result = ast.literal_eval(results[order_id])
        assert result["order_id"] == order_id and result["dish"] == "Salad"
        assert result["table"] == 12 and result["cook_seconds"] >= 0
    # Six orders cooked two at a time: one message per event would be 18.
    assert all(routing_key == "task.multi" for routing_key, _ in batches), batches
    assert len(batches) <= 9 and sum(size for _, size in batches) == 18, batches
