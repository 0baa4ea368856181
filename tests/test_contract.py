"""The waiter and the kitchen agree on task names, and the waiter never imports the kitchen."""

import base64
import json
import subprocess
import sys

import redis

from restaurant.names import PREPARE_DISH, TASKS_SENT_BY_WAITER
from tests.conftest import run_waiter


def test_every_task_the_waiter_sends_is_registered_by_the_kitchen() -> None:
    from kitchen.celery import app

    app.loader.import_default_modules()
    assert PREPARE_DISH in TASKS_SENT_BY_WAITER
    for name in TASKS_SENT_BY_WAITER:
        assert name in app.tasks, f"the kitchen does not register {name}"


def test_the_messages_the_waiter_enqueues_name_a_registered_task(
    kitchen_env: dict[str, str], idle_url: str
) -> None:
    from kitchen.celery import app

    batch = json.dumps(
        [{"table": 1, "dish": "Pasta"}, {"table": 2, "dish": "Salad", "quantity": 2}]
    )
    result = run_waiter({**kitchen_env, "REDIS_URL": idle_url}, "order", "--file", "-", stdin=batch)
    assert result.returncode == 0, result.stderr

    with redis.Redis.from_url(idle_url) as client:
        queued = client.lrange("pasta", 0, -1) + client.lrange("cold", 0, -1)
        messages = [json.loads(raw) for raw in queued]
    assert len(messages) == 3
    for message in messages:
        assert message["content-type"] == "application/json"
        name = message["headers"]["task"]
        assert name in TASKS_SENT_BY_WAITER and name in app.tasks
        args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        assert args == [] and set(kwargs) == {"table", "dish", "note", "ordered_at"}


def test_the_waiter_runs_without_importing_kitchen_code() -> None:
    code = (
        "import sys; import waiter.cli, waiter.client, waiter.batch;"
        "waiter.client.celery_app().loader.import_default_modules();"
        "print(sorted(m for m in sys.modules if m == 'kitchen' or m.startswith('kitchen.')))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
