"""What an order is, and the checks it must pass before (and after) it travels."""

import math
import unicodedata
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

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


class Order(BaseModel):
    """One dish for one table: the arguments of a `kitchen.prepare_dish` task."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    table: int
    dish: str
    note: str | None = None
    #: When the waiter took the order (Unix time), so the kitchen can report waiting times.
    ordered_at: float | None = None

    @field_validator("table", mode="before")
    @classmethod
    def _check_table(cls, value: Any, info: ValidationInfo) -> int:
        tables = _rules(info).tables
        if type(value) is not int or not 1 <= value <= tables:
            raise ValueError(f"table must be a whole number from 1 to {tables}, not {value!r}")
        return value

    @field_validator("dish", mode="before")
    @classmethod
    def _check_dish(cls, value: Any, info: ValidationInfo) -> str:
        if not isinstance(value, str):
            raise ValueError(f"dish must be a name, not {type(value).__name__}")
        name = value.strip()
        if not name:
            raise ValueError("dish name is empty")
        if len(name) > MAX_DISH_NAME:
            raise ValueError(
                f"dish name is too long ({len(name)} characters; at most {MAX_DISH_NAME})"
            )
        menu = _rules(info).menu
        dish = menu.find(name)
        if dish is None:
            suggestion = menu.suggest(name)
            hint = f"; did you mean {suggestion!r}?" if suggestion else ""
            raise ValueError(f"{name!r} is not on the menu{hint} (see 'waiter menu')")
        return dish.name

    @field_validator("note", mode="before")
    @classmethod
    def _check_note(cls, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"note must be text, not {type(value).__name__}")
        note = value.strip()
        if not note:
            raise ValueError("note is empty")
        if len(note) > MAX_NOTE:
            raise ValueError(f"note is too long ({len(note)} characters; at most {MAX_NOTE})")
        if any(unicodedata.category(char).startswith("C") for char in note):
            raise ValueError("note must be one line of printable text")
        return note

    @field_validator("ordered_at", mode="before")
    @classmethod
    def _check_ordered_at(cls, value: Any) -> float | None:
        if value is None:
            return None
        if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
            raise ValueError(f"ordered_at must be a Unix time, not {value!r}")
        return float(value)


class OrderLine(BaseModel):
    """One line of a batch file: a dish for a table, possibly several portions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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


def make_order(fields: dict[str, Any], rules: Rules) -> Order:
    """Validate `fields` into an Order, or raise InvalidOrder with a one-line reason."""
    try:
        return Order.model_validate(fields, context=rules)
    except ValidationError as exc:
        raise InvalidOrder(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """Turn a pydantic error into one readable line (the first problem found)."""
    error = exc.errors(include_url=False)[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    field = ".".join(str(part) for part in error["loc"])
    if error["type"] == "missing":
        return f"{field} is missing"
    if error["type"] == "extra_forbidden":
        return f"unexpected field {field!r}"
    if error["type"].startswith("value_error"):
        return message
    return f"{field}: {message}" if field else message


def _rules(info: ValidationInfo) -> Rules:
    if not isinstance(info.context, Rules):
        raise TypeError("orders are validated with make_order(), which supplies the rules")
    return info.context
