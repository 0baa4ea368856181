"""Tickets from the command line: the real waiter, a real worker and a private Redis."""

import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from restaurant.events import Kind, make_event
from restaurant.ledger import ADVANCE_SCRIPT, Ledger
from restaurant.names import RECENT_KEY
from tests.conftest import WAITER, Waiter, created_ids, run_waiter
from tools.redis_server import RedisServer, free_port

pytestmark = pytest.mark.e2e

TICKET_LINE = re.compile(r"^Ticket (\d+) for table (\d+): (.*)$", re.MULTILINE)


def ticket_lines(stdout: str) -> list[tuple[int, int, str]]:
    """The (number, table, dishes) of each ticket line a `waiter order` printed."""
    return [
        (int(number), int(table), dishes) for number, table, dishes in TICKET_LINE.findall(stdout)
    ]


def placed_ticket(result: subprocess.CompletedProcess[str]) -> int:
    """The number of the one ticket an order placed."""
    assert result.returncode == 0, result.stderr
    [(number, _, _)] = ticket_lines(result.stdout)
    return number


def listed(run: Waiter, *args: str) -> dict[int, dict[str, Any]]:
    """`waiter tickets --json`, by number."""
    result = run("tickets", "--json", *args)
    assert result.returncode == 0, result.stderr
    return {ticket["number"]: ticket for ticket in json.loads(result.stdout)}


def wait_for(run: Waiter, number: int, status: str, timeout: float = 20) -> dict[str, Any]:
    """Poll `waiter tickets --json` until ticket `number` has `status`."""
    deadline = time.monotonic() + timeout
    while (ticket := listed(run).get(number, {})).get("status") != status:
        assert time.monotonic() < deadline, f"ticket {number}: {ticket}"
        time.sleep(0.1)
    return ticket


def served_ticket(run: Waiter, table: str) -> int:
    """A ticket of one quick dish, cooked and served; its number."""
    number = placed_ticket(run("order", "-t", table, "-d", "Tiramisu"))
    wait_for(run, number, "ready")
    served = run("serve", str(number))
    assert served.returncode == 0, served.stderr
    return number


def test_a_three_dish_order_is_one_ticket_that_turns_ready(waiter: Waiter) -> None:
    result = waiter("order", "-t", "11", "-d", "Pasta", "-d", "Salad", "-d", "Tiramisu")

    assert result.returncode == 0, result.stderr
    ids = created_ids(result.stdout)
    lines = result.stdout.splitlines()
    assert len(ids) == 3 and len(lines) == 4
    number = placed_ticket(result)
    assert lines[3] == f"Ticket {number} for table 11: Pasta, Salad, Tiramisu"
    ticket = listed(waiter, "--open")[number]
    assert ticket["table"] == 11 and ticket["status"] in ("open", "ready")
    assert [dish["order_id"] for dish in ticket["dishes"]] == ids
    ready = wait_for(waiter, number, "ready")
    assert [dish["status"] for dish in ready["dishes"]] == ["ready"] * 3
    assert [dish["dish"] for dish in ready["dishes"]] == ["Pasta", "Salad", "Tiramisu"]
    shown = waiter("tickets", "--table", "11")
    assert shown.returncode == 0, shown.stderr
    assert "Pasta (ready), Salad (ready), Tiramisu (ready)" in shown.stdout


def test_two_waiters_serving_one_ticket_at_once_serve_it_once(
    waiter: Waiter, kitchen_env: dict[str, str]
) -> None:
    number = placed_ticket(waiter("order", "-t", "12", "-d", "Salad"))
    wait_for(waiter, number, "ready")

    racing = [
        subprocess.Popen(
            [WAITER, "serve", str(number)],
            env={**os.environ, **kitchen_env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = [(process.communicate(timeout=30), process.returncode) for process in racing]

    codes = sorted(code for _, code in outcomes)
    assert codes == [0, 10], outcomes
    [((out, _), _)] = [outcome for outcome in outcomes if outcome[1] == 0]
    [((_, err), _)] = [outcome for outcome in outcomes if outcome[1] == 10]
    assert re.fullmatch(rf"Ticket {number} for table 12 served at \d\d:\d\d:\d\d\n", out)
    assert re.fullmatch(
        rf"waiter: error: ticket {number} was already served at \d\d:\d\d\n", err
    ), err
    assert number not in listed(waiter, "--open")
    assert listed(waiter)[number]["status"] == "served"


def test_serving_an_open_ticket_is_refused(kitchen_env: dict[str, str], idle_url: str) -> None:
    env = {**kitchen_env, "REDIS_URL": idle_url}  # no worker here: the dish stays queued
    number = placed_ticket(run_waiter(env, "order", "-t", "13", "-d", "Risotto"))

    result = run_waiter(env, "serve", str(number))

    assert result.returncode == 10
    assert result.stderr == (
        f"waiter: error: ticket {number} is not ready: dishes are still cooking\n"
    )
    assert result.stdout == ""
    # A ticket can only be recalled once served.
    recalled = run_waiter(env, "recall", str(number))
    assert recalled.returncode == 10
    assert "has not been served; nothing to recall" in recalled.stderr


def test_an_unknown_ticket(waiter: Waiter) -> None:
    for command in ("serve", "recall"):
        result = waiter(command, "987654")
        assert result.returncode == 9, result.stderr
        assert result.stderr == (
            "waiter: error: no ticket 987654 (never sent, or served too long ago)\n"
        )
    added = waiter("order", "--ticket", "987654", "--dish", "Salad")
    assert added.returncode == 9 and added.stdout == ""


def test_recall_within_the_window_and_not_after(
    waiter: Waiter, kitchen_env: dict[str, str]
) -> None:
    number = served_ticket(waiter, "14")

    recalled = waiter("recall", str(number))

    assert recalled.returncode == 0, recalled.stderr
    assert recalled.stdout == f"Ticket {number} for table 14 recalled: ready again\n"
    assert listed(waiter, "--open")[number]["status"] == "ready"
    assert waiter("serve", str(number)).returncode == 0
    time.sleep(1.5)
    late = run_waiter({**kitchen_env, "TICKET_RECALL_WINDOW": "1"}, "recall", str(number))
    assert late.returncode == 10
    assert re.fullmatch(
        rf"waiter: error: ticket {number} was served at \d\d:\d\d; recall closed at \d\d:\d\d\n",
        late.stderr,
    ), late.stderr


def test_an_addon_joins_an_open_ticket(kitchen_env: dict[str, str], idle_url: str) -> None:
    env = {**kitchen_env, "REDIS_URL": idle_url}
    number = placed_ticket(run_waiter(env, "order", "-t", "15", "-d", "Burger"))

    added = run_waiter(env, "order", "--ticket", str(number), "--dish", "Fries")

    assert added.returncode == 0, added.stderr
    [fries] = created_ids(added.stdout)
    assert added.stdout.splitlines() == [
        f"Order for table 15 created: {fries}",
        f"Ticket {number} for table 15: Fries (add-on)",
    ]
    [ticket] = json.loads(run_waiter(env, "tickets", "--json").stdout)
    assert ticket["number"] == number and ticket["status"] == "open"
    assert [(dish["dish"], dish["addon"]) for dish in ticket["dishes"]] == [
        ("Burger", False),
        ("Fries", True),
    ]
    status = json.loads(run_waiter(env, "status", fries, "--json").stdout)
    assert status["history"][0]["addon"] is True
    assert status["history"][0]["ticket"] == ticket["ticket_id"]
    # The table comes from the ticket: another one is a mistake.
    other = run_waiter(env, "order", "--ticket", str(number), "-t", "16", "-d", "Salad")
    assert other.returncode == 2
    assert other.stderr == f"waiter: error: ticket {number} is table 15's, not table 16's\n"


def test_an_addon_to_a_served_ticket_is_refused_and_sends_nothing(
    waiter: Waiter, redis_client: redis.Redis
) -> None:
    number = served_ticket(waiter, "16")
    before = redis_client.zcard(RECENT_KEY)

    added = waiter("order", "--ticket", str(number), "--dish", "Salad")

    assert added.returncode == 10
    assert added.stdout == ""
    assert re.fullmatch(
        rf"waiter: error: ticket {number} was already served at \d\d:\d\d\n", added.stderr
    ), added.stderr
    assert redis_client.zcard(RECENT_KEY) == before
    assert len(listed(waiter)[number]["dishes"]) == 1


def test_a_batch_file_gives_one_ticket_per_table(waiter: Waiter, tmp_path: Path) -> None:
    batch = tmp_path / "orders.json"
    batch.write_text(
        json.dumps(
            [
                {"table": 17, "dish": "Pasta"},
                {"table": 18, "dish": "Salad", "quantity": 2},
                {"table": 17, "dish": "Tiramisu"},
            ]
        )
    )

    result = waiter("order", "--file", str(batch))

    assert result.returncode == 0, result.stderr
    assert len(created_ids(result.stdout)) == 4
    first, second = ticket_lines(result.stdout)
    assert first[1:] == (17, "Pasta, Tiramisu") and second[1:] == (18, "Salad, Salad")
    assert second[0] == first[0] + 1
    tickets = listed(waiter)
    assert len(tickets[first[0]]["dishes"]) == 2 and len(tickets[second[0]]["dishes"]) == 2


def test_a_keyed_order_placed_again_finds_its_ticket(waiter: Waiter) -> None:
    command = ("order", "-t", "19", "-d", "Salad", "-d", "Pasta", "--key", f"t19-{time.time()}")
    first = waiter(*command)
    again = waiter(*command)

    assert placed_ticket(first) == placed_ticket(again)
    assert again.stdout.count(" already placed: ") == 2
    assert len(listed(waiter)[placed_ticket(first)]["dishes"]) == 2


def test_report_gives_each_stations_figures(waiter: Waiter) -> None:
    number = placed_ticket(waiter("order", "-t", "20", "-d", "Salad", "-d", "Tiramisu"))
    wait_for(waiter, number, "ready")

    shown = waiter("report")
    figures = waiter("report", "--json")

    assert shown.returncode == 0 and figures.returncode == 0, shown.stderr + figures.stderr
    report = json.loads(figures.stdout)
    assert sum(quarter["tickets"] for quarter in report["quarters"]) >= 1
    cold = report["stations"]["cold"]
    assert cold["cook"]["count"] >= 1 and cold["ticket"]["count"] >= 1
    assert cold["ticket"]["p50"] > 0 and cold["ticket"]["p90"] >= cold["ticket"]["p50"]
    assert set(report["stations"]) >= {"pasta", "grill", "cold", "pastry"}
    rows = {line.split()[1]: line for line in shown.stdout.splitlines() if line.count("│") > 3}
    assert re.search(r"│ \d+\s+│ \d+\.\d s\s+│ \d+\.\d s", rows["cold"]), shown.stdout


def test_redis_unreachable(kitchen_env: dict[str, str]) -> None:
    env = {**kitchen_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    for command in (
        ["serve", "1"],
        ["tickets"],
        ["report"],
        ["order", "--ticket", "1", "-d", "Salad"],
    ):
        started = time.monotonic()
        result = run_waiter(env, *command)
        assert result.returncode == 3, (command, result.stderr)
        assert result.stderr.startswith("waiter: error: cannot reach Redis at redis://"), (
            result.stderr
        )
        assert time.monotonic() - started < 10


def test_dishes_join_their_ticket_when_redis_knows_the_ledgers_script_only(
    kitchen_env: dict[str, str], tmp_path: Path
) -> None:
    # A restarted Redis, on which a cook has run the ledger's script since, but nobody has
    # opened a ticket: the opening must still come before the orders that join it.
    with RedisServer(None, tmp_path / "redis") as server:
        env = {**kitchen_env, "REDIS_URL": server.url}
        with redis.Redis.from_url(server.url) as client:
            Ledger(client, 600, 100).record(make_event(Kind.CANCELLED, str(uuid.uuid4())))
            assert client.script_exists(client.register_script(ADVANCE_SCRIPT).sha) == [True]
            number = placed_ticket(run_waiter(env, "order", "-t", "21", "-d", "Pasta"))
        [ticket] = json.loads(run_waiter(env, "tickets", "--json").stdout)
    assert ticket["number"] == number and [d["dish"] for d in ticket["dishes"]] == ["Pasta"]
