"""What an order is, and the checks it must pass before (and after) it travels."""

import math
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from restaurant.exceptions import InvalidOrder
from restaurant.menu import Menu

#: Longest dish name accepted; longer input is refused before any menu lookup.
MAX_DISH_NAME = 64
#: Longest note ("no onions", "allergic to nuts") a waiter may add to an order.
MAX_NOTE = 200
#: Most portions of one dish in one order line.
MAX_QUANTITY = 20


@dataclass(frozen=True)
class Rules:
    """What an order is checked against: the menu and the number of tables."""

    menu: Menu
    tables: int


class Order(msgspec.Struct, frozen=True, kw_only=True):
    """One dish for one table: the arguments of a `kitchen.prepare_dish` task (see make_order)."""

    table: int
    dish: str
    note: str | None = None
    #: When the waiter took the order (Unix time), so the kitchen can report waiting times.
    ordered_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the order as the task's keyword arguments."""
        return msgspec.structs.asdict(self)


class OrderLine(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a batch file: a dish for a table, possibly several portions (see read_line)."""

    table: Any
    dish: Any
    note: Any = None
    quantity: Any = 1
    #: An idempotency key: placing the same line under the same key again places nothing new.
    key: Any = None

    def orders(self, rules: Rules, ordered_at: float) -> list[Order]:
        """Check the line and return one order per portion."""
        quantity = check_quantity(self.quantity)
        order = make_order(
            {"table": self.table, "dish": self.dish, "note": self.note, "ordered_at": ordered_at},
            rules,
        )
        return [order] * quantity


def check_quantity(value: Any) -> int:
    """Return `value` if it is a valid number of portions, else raise InvalidOrder."""
    if type(value) is not int or not 1 <= value <= MAX_QUANTITY:
        raise InvalidOrder(
            f"quantity must be a whole number from 1 to {MAX_QUANTITY}, not {value!r}"
        )
    return value


def make_order(fields: Mapping[str, Any], rules: Rules) -> Order:
    """Check `fields` into an Order, or raise InvalidOrder with a one-line reason."""
    _check_names(fields, _ORDER_REQUIRED, _ORDER_CHECKS)
    checked = {
        name: check(fields[name], rules) for name, check in _ORDER_CHECKS.items() if name in fields
    }
    return Order(**checked)


def read_line(item: Mapping[str, Any]) -> OrderLine:
    """Take one object of a batch file as an OrderLine, or raise InvalidOrder with a reason."""
    _check_names(item, ("table", "dish"), OrderLine.__struct_fields__)
    return OrderLine(**item)


def _check_names(given: Mapping[str, Any], required: Iterable[str], known: Iterable[str]) -> None:
    for name in required:
        if name not in given:
            raise InvalidOrder(f"{name} is missing")
    for name in given:
        if name not in known:
            raise InvalidOrder(f"unexpected field {name!r}")


def _check_table(value: Any, rules: Rules) -> int:
    if type(value) is not int or not 1 <= value <= rules.tables:
        raise InvalidOrder(f"table must be a whole number from 1 to {rules.tables}, not {value!r}")
    return value


def _check_dish(value: Any, rules: Rules) -> str:
    if not isinstance(value, str):
        raise InvalidOrder(f"dish must be a name, not {type(value).__name__}")
    name = value.strip()
    if not name:
        raise InvalidOrder("dish name is empty")
    if len(name) > MAX_DISH_NAME:
        raise InvalidOrder(
            f"dish name is too long ({len(name)} characters; at most {MAX_DISH_NAME})"
        )
    dish = rules.menu.find(name)
    if dish is None:
        suggestion = rules.menu.suggest(name)
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        raise InvalidOrder(f"{name!r} is not on the menu{hint} (see 'waiter menu')")
    return dish.name


def _check_note(value: Any, rules: Rules) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidOrder(f"note must be text, not {type(value).__name__}")
    note = value.strip()
    if not note:
        raise InvalidOrder("note is empty")
    if len(note) > MAX_NOTE:
        raise InvalidOrder(f"note is too long ({len(note)} characters; at most {MAX_NOTE})")
    if any(unicodedata.category(char).startswith("C") for char in note):
        raise InvalidOrder("note must be one line of printable text")
    return note


def _check_ordered_at(value: Any, rules: Rules) -> float | None:
    if value is None:
        return None
    if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
        raise InvalidOrder(f"ordered_at must be a Unix time, not {value!r}")
    return float(value)


#: Each field an order may have, with its check, in the order they are checked.
_ORDER_CHECKS: Final[dict[str, Callable[[Any, Rules], Any]]] = {
    "table": _check_table,
    "dish": _check_dish,
    "note": _check_note,
    "ordered_at": _check_ordered_at,
}
_ORDER_REQUIRED: Final = ("table", "dish")
