"""Unit tests: what makes an order valid, on both sides of the queue."""

from typing import Any

import pytest

from restaurant.exceptions import InvalidOrder
from restaurant.menu import load_menu
from restaurant.orders import Order, Rules, check_quantity, make_order

RULES = Rules(load_menu(), tables=50)


def order(**fields: Any) -> Order:
    return make_order({"table": 1, "dish": "Pasta", **fields}, RULES)


def test_a_plain_order() -> None:
    assert order().as_dict() == {"table": 1, "dish": "Pasta", "note": None, "ordered_at": None}


def test_dish_names_are_matched_regardless_of_case_and_spaces() -> None:
    assert order(dish="  tiRAMisu ").dish == "Tiramisu"


def test_a_note_is_trimmed() -> None:
    assert order(note="  no onions ").note == "no onions"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"table": 0}, "table must be a whole number from 1 to 50, not 0"),
        ({"table": 51}, "table must be a whole number from 1 to 50, not 51"),
        ({"table": True}, "table must be a whole number from 1 to 50, not True"),
        ({"table": 2.0}, "table must be a whole number from 1 to 50, not 2.0"),
        ({"table": None}, "table must be a whole number from 1 to 50, not None"),
        (
            {"dish": "Burgr"},
            "'Burgr' is not on the menu; did you mean 'Burger'? (see 'waiter menu')",
        ),
        ({"dish": "Quiche"}, "'Quiche' is not on the menu (see 'waiter menu')"),
        ({"dish": ""}, "dish name is empty"),
        ({"dish": ["Pasta"]}, "dish must be a name, not list"),
        ({"dish": "P" * 65}, "dish name is too long (65 characters; at most 64)"),
        ({"note": " "}, "note is empty"),
        ({"note": "a\tb"}, "note must be one line of printable text"),
        ({"note": "bell\x07"}, "note must be one line of printable text"),
        ({"note": 3}, "note must be text, not int"),
        ({"ordered_at": "yesterday"}, "ordered_at must be a Unix time, not 'yesterday'"),
        ({"ordered_at": float("nan")}, "ordered_at must be a Unix time, not nan"),
        ({"chef": "Remy"}, "unexpected field 'chef'"),
    ],
)
def test_invalid_orders_are_refused_with_one_line(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidOrder) as caught:
        order(**fields)

    assert str(caught.value) == message


def test_a_missing_field() -> None:
    with pytest.raises(InvalidOrder, match=r"^table is missing$"):
        make_order({"dish": "Pasta"}, RULES)


def test_the_table_range_follows_the_rules() -> None:
    assert make_order({"table": 5, "dish": "Pasta"}, Rules(load_menu(), 5)).table == 5
    with pytest.raises(InvalidOrder, match="from 1 to 5, not 6"):
        make_order({"table": 6, "dish": "Pasta"}, Rules(load_menu(), 5))


def test_an_order_checks_again_into_itself() -> None:
    placed = order(note="no onions", ordered_at=1_700_000_000)

    assert isinstance(placed, Order)
    assert placed.ordered_at == 1_700_000_000.0
    assert make_order(placed.as_dict(), RULES) == placed


@pytest.mark.parametrize("value", [0, 21, -1, "2", 2.0, True])
def test_bad_quantities(value: Any) -> None:
    with pytest.raises(InvalidOrder, match="quantity must be a whole number from 1 to 20"):
        check_quantity(value)


def test_good_quantity() -> None:
    assert check_quantity(20) == 20
