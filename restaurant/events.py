"""Order events: one versioned JSON schema for every step of an order's life."""

import time
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import msgspec

#: Bumped whenever a field changes meaning or disappears; new optional fields keep it.
SCHEMA_VERSION: Final = 1


class Kind(StrEnum):
    """What happened to the order."""

    CREATED = "created"
    HELD = "held"
    FIRED = "fired"
    RECEIVED = "received"
    PREPARING = "preparing"
    PROGRESS = "progress"
    RETRYING = "retrying"
    READY = "ready"
    FAILED = "failed"
    CANCELLED = "cancelled"
    #: A failed order sent back to the kitchen by `waiter retry`, as a new attempt.
    REQUEUED = "requeued"


#: The order's status once the event has happened.
STATUS_AFTER: Final = {
    Kind.CREATED: "pending",
    Kind.HELD: "held",
    Kind.FIRED: "pending",
    Kind.RECEIVED: "received",
    Kind.PREPARING: "preparing",
    Kind.PROGRESS: "preparing",
    Kind.RETRYING: "retrying",
    Kind.READY: "ready",
    Kind.FAILED: "failed",
    Kind.CANCELLED: "cancelled",
    Kind.REQUEUED: "pending",
}

#: Statuses an order never leaves.
FINAL_STATUSES: Final = frozenset({"ready", "failed", "cancelled"})

# Within one delivery of one attempt, steps come in this order; a later delivery (the message
# handed to a new cook after the last one died) outranks every step of the earlier ones, and a
# later attempt outranks every delivery of the earlier ones.
_STEP = {
    Kind.FIRED: 50,
    Kind.RECEIVED: 100,
    Kind.PREPARING: 200,
    Kind.PROGRESS: 200,
    Kind.RETRYING: 900,
}
_DELIVERY = 1000
_ATTEMPT = 1000 * _DELIVERY
_FINAL_RANK = 10**12


class OrderEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One step in an order's life, as published on pub/sub and kept in its history."""

    #: Schema version.
    v: int = SCHEMA_VERSION
    #: What happened.
    event: Kind
    order_id: str
    #: The order's status after this event.
    status: str
    #: When it happened (seconds since the epoch).
    time: float
    #: A whole number once built: one no table has (a refused message's 1e+20) becomes None.
    table: int | float | None = None
    dish: str | None = None
    station: str | None = None
    #: The worker (cook) that sent it; absent for the waiter's and the manager's events.
    worker: str | None = None
    #: Which attempt at cooking (1 for the first); 0 before any cook has it.
    attempt: int = 0
    #: Which delivery of this attempt's message (1 unless a cook died while holding it).
    delivery: int | None = None
    #: Position in the order's history (1, 2, ...), given by the ledger.
    seq: int = 0
    #: created: the note for the kitchen.
    note: str | None = None
    #: progress: how much of the cooking is done.
    percent: int | None = None
    #: retrying, failed, cancelled: why.
    reason: str | None = None
    #: failed: the last error met, where it differs from the reason.
    error: str | None = None
    #: retrying: seconds until the next attempt.
    retry_in: float | None = None
    #: ready: seconds the dish took to cook.
    cook_seconds: float | None = None
    #: created, held: true for a rush order, which cooks take before ordinary ones.
    rush: bool | None = None
    #: created, held: the course this dish belongs to.
    course: int | None = None
    #: The ticket (its id) the order is on: one table's order, served together at the pass.
    ticket: str | None = None
    #: created: true for a dish added to a ticket already sent.
    addon: bool | None = None
    #: held: when the order fires (seconds since the epoch); absent for a course held until
    #: `waiter fire`.
    fire_at: float | None = None

    def __post_init__(self) -> None:
        if self.table is not None:
            msgspec.structs.force_setattr(self, "table", plausible_table(self.table))

    @property
    def final(self) -> bool:
        """Whether the order is finished after this event."""
        return self.status in FINAL_STATUSES

    @property
    def rank(self) -> int:
        """How far along the order this event is; the ledger only ever moves forward."""
        if self.final:
            return _FINAL_RANK
        if self.event in (Kind.CREATED, Kind.HELD):
            return 0
        if self.event is Kind.REQUEUED:
            return self.attempt * _ATTEMPT
        delivery = min(max(self.delivery or 1, 1), _DELIVERY - 1)
        return (
            self.attempt * _ATTEMPT
            + delivery * _DELIVERY
            + _STEP[self.event]
            + min(self.percent or 0, 99)
        )

    @property
    def rank_per_delivery(self) -> int:
        """How much `rank` grows with each later delivery of the same attempt."""
        if self.final or self.event in (Kind.CREATED, Kind.HELD, Kind.REQUEUED):
            return 0
        return _DELIVERY

    def as_dict(self) -> dict[str, Any]:
        """Return the event as plain data, leaving out the fields without a value."""
        fields = msgspec.structs.asdict(self)
        return {name: value for name, value in fields.items() if value is not None}

    def to_json(self) -> str:
        """Encode as the JSON published on pub/sub (fields without a value are left out)."""
        return _ENCODER.encode(self.as_dict()).decode()


_ENCODER = msgspec.json.Encoder()
# Lax like the JSON it reads: a number given as text, or a whole number as 2.0, still counts.
_DECODER = msgspec.json.Decoder(OrderEvent, strict=False)


def plausible_table(value: Any) -> int | None:
    """A table as a whole number, or None for one no table has (a refused message's 1e+20)."""
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return int(value) if whole and not isinstance(value, bool) and abs(value) < 2**53 else None


def make_event(kind: Kind, order_id: str, **fields: Any) -> OrderEvent:
    """Build an event of `kind` happening now, with the status that follows from it."""
    fields.setdefault("time", time.time())
    return OrderEvent(event=kind, order_id=order_id, status=STATUS_AFTER[kind], **fields)


def parse_event(raw: str | bytes) -> OrderEvent:
    """Decode one published event; raise msgspec.DecodeError if it is not one."""
    return _DECODER.decode(raw)


def held_until(fire_at: float | None, course: int | None) -> str:
    """Say until when an order is held: a time, or its course's `waiter fire`."""
    if fire_at is not None:
        return "until " + datetime.fromtimestamp(fire_at).strftime("%H:%M:%S")
    return f"until course {course} is fired"


def describe(event: OrderEvent) -> str:
    """Say what happened in one line, for people watching."""
    clock = datetime.fromtimestamp(event.time).strftime("%H:%M:%S.%f")[:-3]
    what = f"{event.dish or '?'} for table {event.table if event.table is not None else '?'}"
    detail = {
        Kind.CREATED: "ordered" + (f" ({event.note})" if event.note else ""),
        Kind.HELD: "held " + held_until(event.fire_at, event.course),
        Kind.FIRED: "fired: sent to the kitchen",
        Kind.RECEIVED: "taken by a cook"
        + (f" (delivery {event.delivery})" if (event.delivery or 1) > 1 else ""),
        Kind.PREPARING: "preparing",
        Kind.PROGRESS: f"{event.percent}% cooked",
        Kind.RETRYING: f"trouble: {event.reason}; trying again in {event.retry_in or 0:.2f} s",
        Kind.READY: "ready" + (f" after {event.cook_seconds:.2f} s" if event.cook_seconds else ""),
        Kind.FAILED: f"failed: {event.reason}",
        Kind.CANCELLED: "cancelled" + (f": {event.reason}" if event.reason else ""),
        Kind.REQUEUED: f"sent back to the kitchen as attempt {event.attempt}",
    }[event.event]
    by = ""
    if event.worker:
        by = f"  [attempt {event.attempt}, {event.worker}]"
    return f"{clock}  {event.order_id}  {what}: {detail}{by}"
