"""Dead letters and idempotency keys, end to end: `waiter failed`, `waiter retry`, `--key`."""

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from restaurant.events import Kind, make_event
from restaurant.ledger import Ledger
from restaurant.orders import Order
from tests.conftest import TEST_KITCHEN, WAITER, created_ids, run_waiter
from tools.redis_server import RedisServer
from tools.worker import KitchenWorker
from waiter.keys import tickets

pytestmark = pytest.mark.e2e

#: Burger meets a busy grill on its first two attempts and gives up after two: a dead letter
#: that a retry (its third attempt) cooks.
KITCHEN = {**TEST_KITCHEN, "KITCHEN_TROUBLE": "Burger=busy:2", "KITCHEN_MAX_RETRIES": "1"}


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[str, str], KitchenWorker]]:
    """A Redis and a worker of this module's own."""
    folder = tmp_path_factory.mktemp("dead-letters")
    with RedisServer(None, folder / "redis") as server:
        env = {**KITCHEN, "REDIS_URL": server.url}
        with KitchenWorker(env, folder / "worker.log") as worker:
            yield env, worker


@pytest.fixture
def client(stack: tuple[dict[str, str], KitchenWorker]) -> Iterator[redis.Redis]:
    """A client on the module's database."""
    with redis.Redis.from_url(stack[0]["REDIS_URL"], decode_responses=True) as connection:
        yield connection


def failed_burger(env: dict[str, str]) -> str:
    """Place a Burger and wait until it has failed for good; return its id."""
    result = run_waiter(env, "order", "-t", "7", "-d", "Burger", "--note", "no bun", "--wait")
    assert result.returncode == 4, result.stdout + result.stderr
    [order_id] = created_ids(result.stdout)
    return order_id


def test_a_failed_order_is_listed_with_why(stack: tuple[dict[str, str], KitchenWorker]) -> None:
    env, _ = stack
    order_id = failed_burger(env)

    listed = {
        item["order_id"]: item for item in json.loads(run_waiter(env, "failed", "--json").stdout)
    }
    table = run_waiter(env, "failed").stdout

    letter = listed[order_id]
    assert (letter["table"], letter["dish"], letter["note"]) == (7, "Burger", "no bun")
    assert letter["reason"] == "gave up after 2 attempts: the grill station is busy"
    assert letter["error"] == "the grill station is busy"
    assert (letter["attempt"], letter["deliveries"]) == (2, 1)
    assert order_id in table and "gave up after 2 attempts" in table


def test_retry_sends_it_back_once_however_often_asked(
    stack: tuple[dict[str, str], KitchenWorker], client: redis.Redis
) -> None:
    env, worker = stack
    order_id = failed_burger(env)

    retries = [
        subprocess.Popen(
            [WAITER, "retry", order_id],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [(process.communicate(timeout=30), process.returncode) for process in retries]

    sent = [out for (out, _), code in outputs if code == 0 and "sent back" in out]
    assert sent == [f"Order {order_id} sent back to the kitchen as attempt 3.\n"], outputs
    for (out, err), code in outputs:
        # The others found it back in the kitchen, or already cooked.
        assert (code == 0 and "back in the kitchen" in out) or code == 8 or "sent back" in out, err
    log = worker.wait_for_log(f"[{order_id}]: Burger for table 7 is ready.")
    assert log.count(f"[{order_id}]: Preparing Burger") == 3
    events = [
        json.loads(raw)["event"]
        for raw in client.lrange(f"restaurant:order:{order_id}:history", 0, -1)
    ]
    assert events.count("requeued") == 1 and events.count("ready") == 1
    assert events[-1] == "ready"
    assert client.hget("restaurant:dead:letters", order_id) is None

    again = run_waiter(env, "retry", order_id)
    assert again.returncode == 8
    assert again.stderr == f"waiter: error: order {order_id} is ready; nothing to retry\n"


def test_retry_of_an_unknown_or_invalid_order(
    stack: tuple[dict[str, str], KitchenWorker], client: redis.Redis
) -> None:
    env, _ = stack
    unknown = run_waiter(env, "retry", "0b5e2c2e-8f6a-4a49-9d55-0f0b3c1c6f0e")
    assert unknown.returncode == 6 and "no failed order" in unknown.stderr

    # A message from elsewhere naming no dish: filed as a dead letter, but it cannot be cooked.
    broken = '{"order_id": "5d1c0a52-7f55-4f0e-a0c2-3b1a6f1f2d9e", "reason": "invalid order"}'
    client.hset("restaurant:dead:letters", "5d1c0a52-7f55-4f0e-a0c2-3b1a6f1f2d9e", broken)
    client.zadd("restaurant:dead", {"5d1c0a52-7f55-4f0e-a0c2-3b1a6f1f2d9e": 1.0})
    refused = run_waiter(env, "retry", "5d1c0a52-7f55-4f0e-a0c2-3b1a6f1f2d9e")
    assert refused.returncode == 2
    assert refused.stderr.startswith(
        "waiter: error: order 5d1c0a52-7f55-4f0e-a0c2-3b1a6f1f2d9e cannot be retried: table"
    )
    assert client.llen("grill") == 0


def test_purge_asks_first_and_deletes_what_it_listed(
    stack: tuple[dict[str, str], KitchenWorker], client: redis.Redis
) -> None:
    env, _ = stack
    failed_burger(env)
    before = client.zcard("restaurant:dead")
    assert before >= 1

    unasked = run_waiter(env, "failed", "--purge")
    assert unasked.returncode == 2
    assert "add --yes" in unasked.stderr and client.zcard("restaurant:dead") == before

    purged = run_waiter(env, "failed", "--purge", "--yes")
    deleted = f"{before} failed order" + ("s" if before > 1 else "")
    assert purged.returncode == 0 and purged.stdout == f"Deleted {deleted}.\n"
    assert client.zcard("restaurant:dead") == client.hlen("restaurant:dead:letters") == 0
    assert run_waiter(env, "failed").stdout == "no failed orders\n"


def test_a_batch_placed_twice_under_its_keys_is_placed_once(
    stack: tuple[dict[str, str], KitchenWorker], tmp_path: Path
) -> None:
    env, worker = stack
    batch = tmp_path / "batch.json"
    batch.write_text(
        json.dumps(
            [
                {"table": 8, "dish": "Salad", "key": "t8-salad"},
                {"table": 8, "dish": "Pasta", "quantity": 2, "key": "t8-pasta"},
            ]
        )
    )

    first = run_waiter(env, "order", "--file", str(batch), "--wait")
    second = run_waiter(env, "order", "--file", str(batch), "--wait")

    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    ids = created_ids(first.stdout)
    assert len(ids) == 3 and created_ids(second.stdout) == []
    assert [line.split(": ")[1].split()[0] for line in second.stdout.splitlines()[:3]] == ids
    assert second.stdout.count("already placed") == 3 and "(ready)" in second.stdout
    log = worker.log()
    for order_id in ids:
        assert log.count(f"[{order_id}]: Preparing") == 1


def test_a_key_reused_for_another_order_is_refused(
    stack: tuple[dict[str, str], KitchenWorker], client: redis.Redis
) -> None:
    env, _ = stack
    placed = run_waiter(env, "order", "-t", "9", "-d", "Salad", "--key", "t9")
    assert placed.returncode == 0
    queued = client.llen("pasta")

    other = run_waiter(env, "order", "-t", "9", "-d", "Pasta", "--key", "t9")

    assert other.returncode == 2
    assert other.stderr.startswith("waiter: error: key 't9' already placed Salad for table 9")
    assert client.llen("pasta") == queued


def test_an_order_its_waiter_never_sent_is_sent_by_the_next_once_its_lease_lapses(
    stack: tuple[dict[str, str], KitchenWorker], client: redis.Redis
) -> None:
    env, worker = stack
    order = Order(table=10, dish="Salad")
    [ticket] = tickets([order], "t10")
    # A waiter entered it in the ledger, holds its sending lease, and died before sending.
    Ledger(client, retention=3600, recent_limit=100).record(
        make_event(Kind.CREATED, ticket.order_id, table=10, dish="Salad", station="cold")
    )
    lease = f"restaurant:order:{ticket.order_id}:sending"
    client.set(lease, "the dead waiter", ex=30)

    while_held = run_waiter(env, "order", "-t", "10", "-d", "Salad", "--key", "t10")
    client.delete(lease)  # as if its 30 s had run out
    after = run_waiter(env, "order", "-t", "10", "-d", "Salad", "--key", "t10", "--wait")
    again = run_waiter(env, "order", "-t", "10", "-d", "Salad", "--key", "t10")

    assert while_held.stdout.startswith(
        f"Order for table 10 already placed: {ticket.order_id} (pending)\nTicket "
    )
    assert after.returncode == 0, after.stderr
    assert after.stdout.startswith(
        f"Order for table 10 sent again (placed before, never sent): {ticket.order_id}\n"
    )
    assert again.stdout.startswith(
        f"Order for table 10 already placed: {ticket.order_id} (ready)\nTicket "
    )
    assert worker.log().count(f"[{ticket.order_id}]: Preparing Salad") == 1
