"""The ledger's records as Python values: what it did with an event, and an order as it holds it."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from restaurant.events import OrderEvent, parse_event


@dataclass(frozen=True)
class Recorded:
    """What the ledger did with an event."""

    #: The event's place in the order's history, or 0 if it was not applied.
    seq: int
    #: The order's status afterwards ('' when the ledger does not know the order).
    status: str

    @property
    def applied(self) -> bool:
        """Whether the event moved the order forward (and was published)."""
        return self.seq > 0


@dataclass(frozen=True)
class OrderRecord:
    """An order as the ledger holds it."""

    order_id: str
    status: str
    table: int | None
    dish: str | None
    station: str | None
    note: str | None
    attempt: int
    worker: str | None
    reason: str
    percent: int | None
    created_at: float
    updated_at: float
    seq: int
    #: The last error met by a failed order, where it differs from the reason.
    error: str = ""
    #: How many times the current attempt's message has been delivered to a cook.
    deliveries: int = 0
    history: list[OrderEvent] = field(default_factory=list)
    rush: bool = False
    course: int | None = None
    fire_at: float | None = None
    #: The ticket (its id) the order is on, and whether it was added after the ticket was sent.
    ticket: str | None = None
    addon: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Return the record as plain data, its history as event dictionaries."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["history"] = [event.as_dict() for event in self.history]
        return data


def recorded(reply: Any) -> Recorded:
    """Read the ledger script's reply to one event."""
    seq, status = reply
    return Recorded(int(seq), decode_text(status))


def decode_events(raws: Iterable[bytes | str]) -> list[OrderEvent]:
    """Decode stored events, leaving out any entry that is not one (planted or corrupt data)."""
    events = []
    for raw in raws:
        try:
            events.append(parse_event(raw))
        except msgspec.DecodeError:
            continue
    return events


def decode_text(raw: Any) -> str:
    """Read stored text as text, never loaded: bytes that are not UTF-8 show as U+FFFD."""
    return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


def record_from_hash(raw: dict[bytes, bytes]) -> OrderRecord:
    """Read an order's record from its hash in the ledger (its history is read apart)."""
    fields = {decode_text(key): decode_text(value) for key, value in raw.items()}

    def number(name: str) -> int | None:
        value = fields.get(name)
        return int(float(value)) if value not in (None, "") else None

    return OrderRecord(
        order_id=fields.get("order_id", ""),
        status=fields.get("status", ""),
        table=number("table"),
        dish=fields.get("dish"),
        station=fields.get("station"),
        note=fields.get("note"),
        attempt=number("attempt") or 0,
        worker=fields.get("worker"),
        reason=fields.get("reason", ""),
        percent=number("percent"),
        created_at=float(fields.get("created_at", 0)),
        updated_at=float(fields.get("updated_at", 0)),
        seq=number("seq") or 0,
        error=fields.get("error", ""),
        deliveries=number("delivery") or 0,
        rush=fields.get("rush") == "true",
        course=number("course"),
        fire_at=float(fields["fire_at"]) if fields.get("fire_at") else None,
        ticket=fields.get("ticket") or None,
        addon=fields.get("addon") == "true",
    )
