"""Unit tests: idempotency keys name orders, and bad keys are refused."""

import json
from pathlib import Path

import pytest

from restaurant.menu import load_menu
from restaurant.orders import Rules, make_order
from waiter.batch import read_batch
from waiter.exceptions import BadInput
from waiter.keys import MAX_KEY, check_key, tickets

RULES = Rules(load_menu(), tables=50)
PASTA = make_order({"table": 1, "dish": "Pasta"}, RULES)


def test_the_same_key_names_the_same_orders_and_no_key_a_new_one() -> None:
    first = tickets([PASTA, PASTA], "table-1")
    again = tickets([PASTA, PASTA], "table-1")
    unkeyed = tickets([PASTA, PASTA], None)

    assert [t.order_id for t in first] == [t.order_id for t in again]
    assert len({t.order_id for t in first}) == 2  # each portion is its own order
    assert [t.key for t in first] == ["table-1#1", "table-1#2"]
    assert len({t.order_id for t in unkeyed} | {t.order_id for t in first}) == 4


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "--key is empty"),
        ("   ", "--key is empty"),
        ("k" * (MAX_KEY + 1), f"--key is too long ({MAX_KEY + 1} characters; at most {MAX_KEY})"),
        ("a\nb", "--key must be printable text on one line"),
        ("a\x1b[31mb", "--key must be printable text on one line"),
        (7, "--key must be text, not int"),
    ],
)
def test_bad_keys(key: object, message: str) -> None:
    with pytest.raises(BadInput) as refused:
        check_key(key)
    assert str(refused.value) == message


def test_batch_lines_carry_their_own_keys(tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    lines = [{"table": 2, "dish": "Salad", "key": "s"}, {"table": 2, "dish": "Soup", "quantity": 2}]
    path.write_text(json.dumps(lines))

    first, again = read_batch(path, RULES, 1.0), read_batch(path, RULES, 2.0)

    assert [t.key for t in first] == ["s#1", None, None]
    assert first[0].order_id == again[0].order_id
    assert first[1].order_id != again[1].order_id


def test_a_bad_key_in_a_batch_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    path.write_text(json.dumps([{"table": 2, "dish": "Salad", "key": ""}]))

    with pytest.raises(BadInput, match=rf"^{path} item 1: key is empty$"):
        read_batch(path, RULES, 1.0)
