"""A ticket as the ledger holds it, and why a ticket may refuse what is asked of it."""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from restaurant.records import decode_text

#: A ticket's statuses: its dishes cooking, all finished, handed over at the pass.
STATUSES: Final = ("open", "ready", "served")
#: A ticket's fields, as `TicketState.to_dict` and the snapshot give them.
TICKET_FIELDS: Final = (
    "ticket_id", "number", "table", "status", "created_at", "ready_at", "served_at", "recalled_at",
)  # fmt: skip


class TicketError(Exception):
    """A ticket cannot do what was asked; the message is the one line to show."""


class TicketUnknown(TicketError):
    """No ticket has that number (never sent, or long served)."""


class TicketAlreadyServed(TicketError):
    """The ticket was served already."""


class TicketNotReady(TicketError):
    """The ticket's dishes are not all finished: it cannot be served yet."""


class TicketNotServed(TicketError):
    """Only a served ticket can be recalled."""


class RecallTooLate(TicketError):
    """The ticket was served longer ago than the recall window."""


class TicketClosed(TicketError):
    """Dishes cannot be added to a ticket that has been served."""


@dataclass(frozen=True)
class TicketState:
    """A ticket as the ledger holds it."""

    ticket_id: str
    number: int
    table: int
    status: str
    created_at: float
    ready_at: float | None = None
    served_at: float | None = None
    recalled_at: float | None = None
    #: Its order ids, in the order they were placed.
    dishes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the ticket as plain data (dishes as a list)."""
        data = {name: getattr(self, name) for name in TICKET_FIELDS}
        data["dishes"] = list(self.dishes)
        return data


def ticket_from_hash(raw: dict[Any, Any], dishes: list[Any]) -> TicketState:
    """Read a ticket from its hash and its list of order ids."""
    fields = {decode_text(key): decode_text(value) for key, value in raw.items()}

    def when(name: str) -> float | None:
        value = fields.get(name)
        return float(value) if value not in (None, "") else None

    return TicketState(
        ticket_id=fields.get("ticket_id", ""),
        number=int(fields.get("number", 0)),
        table=int(fields.get("table", 0)),
        status=fields.get("status", ""),
        created_at=float(fields.get("created_at", 0)),
        ready_at=when("ready_at"),
        served_at=when("served_at"),
        recalled_at=when("recalled_at"),
        dishes=tuple(decode_text(dish) for dish in dishes),
    )


def new_ticket_id(key: str | None = None, table: int | None = None) -> str:
    """A new ticket's id: random, or derived from an order key so that a retry finds it."""
    if key is None:
        return uuid.uuid4().hex
    return hashlib.sha256(f"ticket:{key}:{table}".encode()).hexdigest()[:32]


def day_of(moment: float) -> str:
    """The service day (local date, YYYYMMDD) a moment falls in; ticket numbers restart daily."""
    return datetime.fromtimestamp(moment).strftime("%Y%m%d")


def clock(moment: float | None) -> str:
    """A moment as the pass reads it: 19:42."""
    return datetime.fromtimestamp(moment or 0).strftime("%H:%M")
