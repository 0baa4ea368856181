"""Bad input: one line on stderr, a non-zero exit, and nothing enqueued or recorded."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.conftest import run_waiter

pytestmark = pytest.mark.e2e

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def order_on_idle_db(kitchen_env: dict[str, str], idle_url: str) -> Run:
    """Run the waiter against a database no worker drains; check nothing changed there."""

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        with redis.Redis.from_url(idle_url) as client:
            before = (client.llen("pasta"), client.dbsize())
            result = run_waiter({**kitchen_env, "REDIS_URL": idle_url}, *args, stdin=stdin)
            after = (client.llen("pasta"), client.dbsize())
        if result.returncode != 0:
            assert after == before, f"{args} changed Redis: {before} -> {after}"
        return result.returncode, result.stdout, result.stderr

    return run


def test_a_good_order_does_reach_the_queue(order_on_idle_db: Run, idle_url: str) -> None:
    # The control for every test below: the same check sees a real enqueue.
    code, out, _ = order_on_idle_db("order", "--table", "1", "--dish", "Pasta", "-q", "2")

    assert code == 0 and out.count("created:") == 2
    with redis.Redis.from_url(idle_url) as client:
        assert client.llen("pasta") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--table", "1", "--dish", "Pastaa"],
            "'Pastaa' is not on the menu; did you mean 'Pasta'? (see 'waiter menu')",
        ),
        (["--table", "1", "--dish", "Lobster"], "'Lobster' is not on the menu (see 'waiter menu')"),
        (["--table", "0", "--dish", "Pasta"], "table must be a whole number from 1 to 50, not 0"),
        (["--table", "-3", "--dish", "Pasta"], "table must be a whole number from 1 to 50, not -3"),
        (["--table", "51", "--dish", "Pasta"], "table must be a whole number from 1 to 50, not 51"),
        (["--table", "one", "--dish", "Pasta"], "--table/-t: Input should be a valid integer"),
        (["--table", "1", "--dish", ""], "dish name is empty"),
        (["--table", "1", "--dish", "   "], "dish name is empty"),
        (["--table", "1", "--dish", "x" * 65], "dish name is too long (65 characters; at most 64)"),
        (["--table", "1", "--dish", "Pasta", "--note", ""], "note is empty"),
        (
            ["--table", "1", "--dish", "Pasta", "--note", "n" * 201],
            "note is too long (201 characters; at most 200)",
        ),
        (
            ["--table", "1", "--dish", "Pasta", "--note", "two\nlines"],
            "note must be one line of printable text",
        ),
        (
            ["--table", "1", "--dish", "Pasta", "-q", "0"],
            "quantity must be a whole number from 1 to 20, not 0",
        ),
        (
            ["--table", "1", "--dish", "Pasta", "-q", "21"],
            "quantity must be a whole number from 1 to 20, not 21",
        ),
        (["--table", "1"], "say what to cook with --dish (repeat it for several dishes)"),
        (["--dish", "Pasta"], "say which table with --table (or give a batch with --file)"),
        (["--table", "1", "--dish", "Pasta", "--dish", "Lobster"], "'Lobster' is not on the menu"),
        (["--table", "1", "--dish", "Pasta", "--tabel", "2"], "No such option: --tabel"),
    ],
)
def test_bad_command_line(order_on_idle_db: Run, args: list[str], message: str) -> None:
    code, out, err = order_on_idle_db("order", *args)

    assert code == 2
    assert out == ""
    assert err.startswith(f"waiter: error: {message}")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_huge_dish_name(order_on_idle_db: Run) -> None:
    # Linux caps one argument at 128 KiB; the batch-file test below sends a 1 MB name.
    code, _, err = order_on_idle_db("order", "--table", "1", "--dish", "x" * 100_000)

    assert code == 2
    assert err == "waiter: error: dish name is too long (100000 characters; at most 64)\n"


def test_the_table_range_is_configured(kitchen_env: dict[str, str], idle_url: str) -> None:
    env = {**kitchen_env, "REDIS_URL": idle_url, "RESTAURANT_TABLES": "5"}

    result = run_waiter(env, "order", "--table", "6", "--dish", "Pasta")

    assert result.returncode == 2
    assert result.stderr == "waiter: error: table must be a whole number from 1 to 5, not 6\n"


GOOD = {"table": 1, "dish": "Pasta"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"table": 1, "dish": "Pasta"}', "is not valid JSON: Expecting ',' delimiter (line 1"),
        ("", "is not valid JSON: Expecting value (line 1, column 1)"),
        ('{"table": 1, "dish": "Pasta"}', "must hold a JSON list of orders, not a object"),
        ("[]", "holds no orders"),
        (json.dumps([GOOD, "Pasta"]), "item 2: expected an object, not a string"),
        (json.dumps([GOOD, {"table": 1}]), "item 2: dish is missing"),
        (json.dumps([GOOD, {"dish": "Pasta"}]), "item 2: table is missing"),
        (json.dumps([GOOD, {**GOOD, "chef": "x"}]), "item 2: unexpected field 'chef'"),
        (
            json.dumps([GOOD, {"table": "1", "dish": "Pasta"}]),
            "item 2: table must be a whole number from 1 to 50, not '1'",
        ),
        (
            json.dumps([GOOD, {"table": True, "dish": "Pasta"}]),
            "item 2: table must be a whole number from 1 to 50, not True",
        ),
        (
            json.dumps([GOOD, {"table": 1.5, "dish": "Pasta"}]),
            "item 2: table must be a whole number from 1 to 50, not 1.5",
        ),
        (json.dumps([GOOD, {"table": 1, "dish": 7}]), "item 2: dish must be a name, not int"),
        (json.dumps([GOOD, {"table": 1, "dish": "Pizza"}]), "item 2: 'Pizza' is not on the menu"),
        (json.dumps([GOOD, {**GOOD, "note": ""}]), "item 2: note is empty"),
        (json.dumps([GOOD, {**GOOD, "quantity": 0}]), "item 2: quantity must be a whole number"),
        (
            json.dumps([GOOD, {**GOOD, "dish": "y" * 1_000_000}]),
            "item 2: dish name is too long (1000000 characters; at most 64)",
        ),
    ],
)
def test_bad_batch_file_enqueues_not_even_its_good_lines(
    order_on_idle_db: Run, tmp_path: Path, content: str, message: str
) -> None:
    batch = tmp_path / "orders.json"
    batch.write_text(content)

    code, out, err = order_on_idle_db("order", "--file", str(batch))

    assert code == 2
    assert out == ""
    assert err.startswith(f"waiter: error: {batch} {message}")
    assert err.count("\n") == 1


def test_batch_file_that_does_not_exist(order_on_idle_db: Run, tmp_path: Path) -> None:
    code, _, err = order_on_idle_db("order", "--file", str(tmp_path / "nope.json"))

    assert code == 2
    assert (
        err == f"waiter: error: cannot read {tmp_path / 'nope.json'}: No such file or directory\n"
    )


def test_batch_file_with_other_options(order_on_idle_db: Run, tmp_path: Path) -> None:
    batch = tmp_path / "orders.json"
    batch.write_text(json.dumps([GOOD]))

    code, _, err = order_on_idle_db("order", "--file", str(batch), "--table", "1")

    assert code == 2
    assert "--file cannot be combined with --table" in err


def test_bad_batch_from_stdin(order_on_idle_db: Run) -> None:
    code, _, err = order_on_idle_db("order", "--file", "-", stdin="not json")

    assert code == 2
    assert err.startswith("waiter: error: stdin is not valid JSON")


def test_not_an_order_id(kitchen_env: dict[str, str], idle_url: str) -> None:
    result = run_waiter({**kitchen_env, "REDIS_URL": idle_url}, "status", "../../etc")

    assert result.returncode == 2
    assert result.stderr.startswith("waiter: error: '../../etc' is not an order id")


def test_bad_configuration_is_its_own_error(kitchen_env: dict[str, str], idle_url: str) -> None:
    env = {**kitchen_env, "REDIS_URL": idle_url, "RESTAURANT_TABLES": "many"}

    result = run_waiter(env, "order", "--table", "1", "--dish", "Pasta")

    assert result.returncode == 7
    assert result.stderr == "waiter: error: RESTAURANT_TABLES must be a whole number, not 'many'\n"
