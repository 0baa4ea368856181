"""Unit tests: reading batch files."""

import json
from pathlib import Path

import pytest

from restaurant.menu import load_menu
from restaurant.orders import Rules
from waiter.batch import MAX_BATCH, MAX_FILE_BYTES, read_batch
from waiter.exceptions import BadInput

RULES = Rules(load_menu(), tables=50)


def write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "orders.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_the_tutorial_batch(tmp_path: Path) -> None:
    path = Path(__file__).resolve().parent.parent / "docs" / "orders.json"

    orders = [ticket.order for ticket in read_batch(path, RULES, ordered_at=1.0)]

    assert [(order.table, order.dish, order.note, order.ordered_at) for order in orders] == [
        (1, "Pasta", None, 1.0),
        (2, "Burger", None, 1.0),
        (1, "Salad", None, 1.0),
    ]


def test_quantity_and_note(tmp_path: Path) -> None:
    path = write(tmp_path, [{"table": 3, "dish": "fries", "quantity": 3, "note": "extra salt"}])

    orders = [ticket.order for ticket in read_batch(path, RULES, ordered_at=2.0)]

    assert [order.as_dict() for order in orders] == [
        {"table": 3, "dish": "Fries", "note": "extra salt", "ordered_at": 2.0}
    ] * 3


def test_too_many_orders(tmp_path: Path) -> None:
    lines = [{"table": 1, "dish": "Pasta", "quantity": 20}] * (MAX_BATCH // 20 + 1)

    with pytest.raises(BadInput, match=f"holds more than {MAX_BATCH} orders"):
        read_batch(write(tmp_path, lines), RULES, 0.0)


def test_too_large_a_file(tmp_path: Path) -> None:
    path = write(tmp_path, " " * (MAX_FILE_BYTES + 1))

    with pytest.raises(BadInput, match="is larger than 20 MB"):
        read_batch(path, RULES, 0.0)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    path.write_bytes(b'[{"table": 1, "dish": "\xff"}]')

    with pytest.raises(BadInput, match="is not"):
        read_batch(path, RULES, 0.0)
