"""Idempotency keys: the same key always names the same order, so a retried submission is safe."""

import unicodedata
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from restaurant.orders import Order
from waiter.exceptions import BadInput

if TYPE_CHECKING:
    from restaurant.ledger import Ledger
    from restaurant.records import OrderRecord

#: Order ids of keyed orders are UUIDs derived from the key in this namespace.
KEY_NAMESPACE: Final = uuid.UUID("6f1c3e0a-6b2d-5d8e-9a41-3c7f2b1e9d05")
#: Longest idempotency key accepted.
MAX_KEY: Final = 200


@dataclass(frozen=True)
class KeyedOrder:
    """One order to place, with the key it was placed under (None: a fresh order every time)."""

    order: Order
    key: str | None = None
    order_id: str = field(init=False)

    def __post_init__(self) -> None:
        order_id = uuid.uuid5(KEY_NAMESPACE, self.key) if self.key else uuid.uuid4()
        object.__setattr__(self, "order_id", str(order_id))


def check_key(value: Any, where: str = "--key") -> str:
    """Return `value` if it can be an idempotency key, else raise BadInput."""
    if not isinstance(value, str):
        raise BadInput(f"{where} must be text, not {type(value).__name__}")
    if not value.strip():
        raise BadInput(f"{where} is empty")
    if len(value) > MAX_KEY:
        raise BadInput(f"{where} is too long ({len(value)} characters; at most {MAX_KEY})")
    if any(unicodedata.category(char).startswith("C") for char in value):
        raise BadInput(f"{where} must be printable text on one line")
    return value


def tickets(orders: list[Order], key: str | None) -> list[KeyedOrder]:
    """Key each order; under a key, the n-th order gets the key "<key>#<n>"."""
    if key is None:
        return [KeyedOrder(order) for order in orders]
    return [KeyedOrder(order, f"{key}#{number}") for number, order in enumerate(orders, start=1)]


def known_orders(ledger: "Ledger", keyed: list[KeyedOrder]) -> dict[str, "OrderRecord"]:
    """Return the keyed orders already in the ledger; refuse a key reused for another order."""
    known = ledger.records([item.order_id for item in keyed])
    for item in keyed:
        record = known.get(item.order_id)
        if record is None:
            continue
        same = (record.table, record.dish, record.note or None) == (
            item.order.table,
            item.order.dish,
            item.order.note,
        )
        if not same:
            key = (item.key or "").rsplit("#", 1)[0]
            raise BadInput(
                f"key {key!r} already placed {record.dish} for table {record.table} "
                f"(order {record.order_id}); use a new key for a different order"
            )
    return known
