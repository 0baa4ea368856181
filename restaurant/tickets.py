"""Tickets: one table's order, whose dishes cook at several stations and are served together."""

import json
import time
from collections.abc import Sequence
from typing import Any

import redis
from redis.commands.core import Script

from restaurant.ledger import SPEED_KEPT, lua
from restaurant.names import (
    EVENT_LOG_KEY,
    ORDER_KEY,
    TICKET_COUNTER_PREFIX,
    TICKET_DISHES_KEY,
    TICKET_KEY,
    TICKET_NUMBERS_KEY,
    TICKETS_CHANNEL,
    TICKETS_DAY_PREFIX,
    TICKETS_OPEN_KEY,
    TICKETS_SERVED_KEY,
)
from restaurant.records import decode_text
from restaurant.settings import Settings, load_settings
from restaurant.ticket_records import (
    RecallTooLate,
    TicketAlreadyServed,
    TicketClosed,
    TicketNotReady,
    TicketNotServed,
    TicketState,
    TicketUnknown,
    clock,
    day_of,
    new_ticket_id,
    ticket_from_hash,
)


class TicketBook:
    """Opens, serves and recalls tickets, and reads them for the screens and the CLI."""

    def __init__(
        self,
        client: redis.Redis,
        recall_window: float = 600.0,
        retention: int = 86_400,
        event_log_cap: int = 10_000,
    ) -> None:
        self.client = client
        self.recall_window = recall_window
        self.retention = retention
        self.event_log_cap = event_log_cap
        lib = lua("ticket_lib.lua")
        self._open = client.register_script(lib + lua("ticket_open.lua"))
        self._bump = client.register_script(lib + lua("ticket_bump.lua"))
        self._snapshot = client.register_script(lib + lua("ticket_snapshot.lua"))
        db = int(client.connection_pool.connection_kwargs.get("db", 0))
        self.channel = TICKETS_CHANNEL.format(db=db)

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings | None = None) -> "TicketBook":
        """Return the ticket book on `client`, with its windows and caps from the environment."""
        settings = settings or load_settings()
        return cls(client, settings.recall_window, settings.retention, settings.event_log_cap)

    @property
    def scripts(self) -> list[Script]:
        """The Lua scripts of the tickets (to load again if Redis has lost them)."""
        return [self._open, self._bump, self._snapshot]

    # --- Writing --------------------------------------------------------------------------
    def queue_open(
        self,
        pipe: Any,
        ticket_id: str,
        table: int,
        at: float,
        dishes: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Queue the opening of a ticket with its dishes ((order id, station) pairs) on a
        pipeline; its reply is the ticket's number. The dishes' own events need not come after
        it: they leave the ticket alone until one finishes."""
        day = day_of(at)
        keys = [
            TICKET_COUNTER_PREFIX + day,
            TICKET_KEY.format(ticket_id=ticket_id),
            TICKET_NUMBERS_KEY,
            TICKETS_OPEN_KEY,
            TICKETS_DAY_PREFIX + day,
        ]
        args: list[Any] = [ticket_id, table, at, day, EVENT_LOG_KEY, self.event_log_cap]
        args.append(self.channel)
        args.append(3 * SPEED_KEPT)
        for order_id, station in dishes:
            args += [order_id, station]
        self._open(keys=keys, args=args, client=pipe)

    def open(
        self,
        table: int,
        at: float | None = None,
        ticket_id: str | None = None,
        dishes: Sequence[tuple[str, str]] = (),
    ) -> int:
        """Open a ticket for `table` now (or at `at`) with its dishes; return its number."""
        pipe = self.client.pipeline(transaction=False)
        self.queue_open(pipe, ticket_id or new_ticket_id(), table, at or time.time(), dishes)
        return int(pipe.execute()[0])

    def serve(self, number: int, now: float | None = None) -> TicketState:
        """Serve a ready ticket at the pass; only one of two racing bumps serves it."""
        return self._bumped("serve", number, now)

    def recall(self, number: int, now: float | None = None) -> TicketState:
        """Bring a served ticket back to the pass, within the recall window."""
        return self._bumped("recall", number, now)

    def for_addon(self, number: int) -> TicketState:
        """The ticket dishes are about to be added to; refused once it has been served."""
        return self._bumped("addon", number, None)

    def _bumped(self, action: str, number: int, now: float | None) -> TicketState:
        keys = [TICKET_NUMBERS_KEY, TICKETS_OPEN_KEY, TICKETS_SERVED_KEY]
        args: list[Any] = [action, number, now or time.time(), self.recall_window]
        args += [self.retention, EVENT_LOG_KEY, self.event_log_cap, self.channel]
        args.append(TICKET_KEY.format(ticket_id=""))
        verdict, ticket_id, _status, served_at = (
            decode_text(part) for part in self._bump(keys=keys, args=args)
        )
        if verdict == "unknown":
            raise TicketUnknown(f"no ticket {number} (never sent, or served too long ago)")
        if verdict == "served":
            raise (TicketClosed if action == "addon" else TicketAlreadyServed)(
                f"ticket {number} was already served at {clock(float(served_at))}"
            )
        if verdict == "not_ready":
            raise TicketNotReady(f"ticket {number} is not ready: dishes are still cooking")
        if verdict == "not_served":
            raise TicketNotServed(f"ticket {number} has not been served; nothing to recall")
        if verdict == "too_late":
            closed = float(served_at) + self.recall_window
            raise RecallTooLate(
                f"ticket {number} was served at {clock(float(served_at))}; "
                f"recall closed at {clock(closed)}"
            )
        ticket = self.get(ticket_id)
        if ticket is None:  # Expired between the two calls: as good as never sent.
            raise TicketUnknown(f"no ticket {number} (never sent, or served too long ago)")
        return ticket

    # --- Reading --------------------------------------------------------------------------
    def get(self, ticket_id: str) -> TicketState | None:
        """Read one ticket by its id."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(TICKET_KEY.format(ticket_id=ticket_id))
        pipe.lrange(TICKET_DISHES_KEY.format(ticket_id=ticket_id), 0, -1)
        raw, dishes = pipe.execute()
        return ticket_from_hash(raw, dishes) if raw else None

    def find(self, number: int) -> TicketState | None:
        """Read the newest ticket with this number."""
        ticket_id = self.client.hget(TICKET_NUMBERS_KEY, str(number))
        return self.get(decode_text(ticket_id)) if ticket_id else None

    def open_tickets(self, table: int | None = None) -> list[TicketState]:
        """Tickets not yet served (open or ready), oldest first; one table's, if given."""
        ids = [decode_text(raw) for raw in self.client.zrange(TICKETS_OPEN_KEY, 0, -1)]
        return [t for t in self._many(ids) if table is None or t.table == table]

    def recently_served(self, now: float | None = None) -> list[TicketState]:
        """Tickets served within the recall window, oldest first."""
        since = (now or time.time()) - self.recall_window
        ids = self.client.zrangebyscore(TICKETS_SERVED_KEY, since, "+inf")
        return self._many([decode_text(raw) for raw in ids])

    def _many(self, ids: list[str]) -> list[TicketState]:
        pipe = self.client.pipeline(transaction=False)
        for ticket_id in ids:
            pipe.hgetall(TICKET_KEY.format(ticket_id=ticket_id))
            pipe.lrange(TICKET_DISHES_KEY.format(ticket_id=ticket_id), 0, -1)
        replies = pipe.execute() if ids else []
        pairs = zip(replies[::2], replies[1::2], strict=True)
        return [ticket_from_hash(raw, dishes) for raw, dishes in pairs if raw]

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """What a screen shows (tickets open, ready or served within the recall window, and
        their orders), read atomically with the id of the newest event in the log."""
        return dict(json.loads(self.snapshot_json(now)[1]))

    def snapshot_json(self, now: float | None = None) -> tuple[str, str]:
        """The snapshot's log id, and the snapshot as JSON, ready to send to a screen:
        {"last_id", "tickets": [ticket, with "dishes": [order ids]], "orders": {id: order}}."""
        since = (now or time.time()) - self.recall_window
        keys = [EVENT_LOG_KEY, TICKETS_OPEN_KEY, TICKETS_SERVED_KEY]
        args: list[Any] = [since, TICKET_KEY.format(ticket_id=""), ORDER_KEY.format(order_id="")]
        last_id, tickets, orders = (decode_text(part) for part in self._snapshot(keys, args))
        # The ledger keeps each ticket and each order as JSON already: joined, not re-encoded.
        return (
            last_id,
            f'{{"last_id":{json.dumps(last_id)},"tickets":[{tickets}],"orders":{{{orders}}}}}',
        )
