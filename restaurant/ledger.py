"""The order ledger in Redis: each order's state and history, kept in step with its events."""

from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from typing import Any, Final, overload

import redis
from redis.client import Pipeline
from redis.commands.core import Script

from restaurant.events import Kind, OrderEvent
from restaurant.ledger_reads import LedgerReader
from restaurant.names import (
    ALL_CHANNEL,
    DEAD_INDEX_KEY,
    DEAD_LETTERS_KEY,
    EVENT_LOG_KEY,
    HISTORY_KEY,
    OPEN_KEY,
    ORDER_CHANNEL,
    ORDER_KEY,
    RECENT_KEY,
    SPEED_COOK_PREFIX,
    SPEED_TICKET_PREFIX,
    TABLE_CHANNEL,
    TABLE_OPEN_PREFIX,
    TICKET_KEY,
    TICKETS_CHANNEL,
    TICKETS_OPEN_KEY,
    TICKETS_SERVED_KEY,
)
from restaurant.pipelines import run_together
from restaurant.records import Recorded, recorded
from restaurant.settings import Settings, load_settings

#: The newest events kept in an order's history (a retried dish has about a dozen).
HISTORY_LIMIT: Final = 200

#: How long the speed-of-service figures are kept (seconds): a day's report needs a day.
SPEED_KEPT: Final = 86_400


@cache
def lua(name: str) -> str:
    """The text of one of the package's Lua scripts (read once per process)."""
    return resources.files("restaurant").joinpath(name).read_text(encoding="utf-8")


#: The ledger's script, with the helpers it shares with the tickets' scripts ahead of it.
ADVANCE_SCRIPT: Final = lua("ticket_lib.lua") + lua("ledger.lua")


class Ledger(LedgerReader):
    """Reads and advances orders in the ledger kept in one Redis database."""

    def __init__(
        self,
        client: redis.Redis,
        retention: int,
        recent_limit: int,
        dead_letter_limit: int = 10_000,
        event_log_cap: int = 10_000,
    ) -> None:
        self.client = client
        self.retention = retention
        self.recent_limit = recent_limit
        self.dead_letter_limit = dead_letter_limit
        self.event_log_cap = event_log_cap
        self._advance = client.register_script(ADVANCE_SCRIPT)
        self.db = database_of(client)

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings | None = None) -> "Ledger":
        """Return the ledger on `client`, with retention and caps from the environment."""
        settings = settings or load_settings()
        return cls(
            client,
            settings.retention,
            settings.recent_limit,
            settings.dead_letter_limit,
            settings.event_log_cap,
        )

    @property
    def scripts(self) -> list[Script]:
        """The Lua scripts the ledger runs (to load again if Redis has lost them)."""
        return [self._advance]

    # --- Channels -------------------------------------------------------------------------
    def channel(self, *, table: int | None = None, order_id: str | None = None) -> str:
        """Name the channel carrying one order's events, one table's, or everyone's."""
        if order_id is not None:
            return ORDER_CHANNEL.format(db=self.db, order_id=order_id)
        if table is not None:
            return TABLE_CHANNEL.format(db=self.db, table=table)
        return ALL_CHANNEL.format(db=self.db)

    # --- Writing --------------------------------------------------------------------------
    def record(self, event: OrderEvent, client: Any = None) -> Recorded:
        """Apply `event` and publish it if it moves its order forward; else change nothing.

        With a pipeline as `client`, the call is queued and its result comes from `execute()`
        (see `record_many`).
        """
        keys, args = self.script_call(event)
        reply = self._advance(keys=keys, args=args, client=client or self.client)
        if client is not None:
            return Recorded(0, "")
        return recorded(reply)

    def script_call(self, event: OrderEvent) -> tuple[list[str], list[str | int]]:
        """The keys and arguments with which restaurant/ledger.lua applies `event`."""
        keys, settings = self.script_context(event)
        return keys, [event.to_json(), event.rank, *settings]

    def script_context(self, event: OrderEvent) -> tuple[list[str], list[str | int]]:
        """The keys of `event`'s order and ledger.lua's arguments after the event's own two."""
        keys = [
            ORDER_KEY.format(order_id=event.order_id),
            HISTORY_KEY.format(order_id=event.order_id),
            OPEN_KEY,
            RECENT_KEY,
            DEAD_INDEX_KEY,
            DEAD_LETTERS_KEY,
        ]
        args: list[str | int] = [
            self.retention,
            TABLE_OPEN_PREFIX,
            HISTORY_LIMIT,
            self.recent_limit,
            # Only a sender that knows the order may start its record: a cancel may not.
            "0" if event.event is Kind.CANCELLED else "1",
            self.channel(),
            self.channel(order_id=event.order_id),
            # The script completes the table's channel: the sender may not know the table.
            TABLE_CHANNEL.format(db=self.db, table=""),
            self.dead_letter_limit,
            EVENT_LOG_KEY,
            self.event_log_cap,
            TICKETS_CHANNEL.format(db=self.db),
            TICKET_KEY.format(ticket_id=""),
            TICKETS_OPEN_KEY,
            TICKETS_SERVED_KEY,
            SPEED_COOK_PREFIX,
            SPEED_TICKET_PREFIX,
            ORDER_KEY.format(order_id=""),
            SPEED_KEPT,
        ]
        return keys, args

    @overload
    def record_many(self, events: Iterable[OrderEvent]) -> list[Recorded]: ...

    @overload
    def record_many(
        self, events: Iterable[OrderEvent], *, raise_on_error: bool
    ) -> list[Recorded | redis.RedisError]: ...

    def record_many(
        self, events: Iterable[OrderEvent], *, raise_on_error: bool = True
    ) -> list[Recorded] | list[Recorded | redis.RedisError]:
        """Apply many events in one round trip (with `raise_on_error` off, errors in place)."""
        listed = list(events)
        replies = run_together(
            self.client,
            lambda pipe: self.queue(listed, pipe),
            self.scripts,
            raise_on_error=raise_on_error,
        )
        return [
            reply if isinstance(reply, redis.RedisError) else recorded(reply) for reply in replies
        ]

    def record_along(
        self,
        event: OrderEvent,
        also: Callable[[Pipeline], object] | None = None,
    ) -> Recorded:
        """Apply `event`, then run what `also` queues, in one round trip."""

        def queue(pipe: Pipeline) -> None:
            self.record(event, client=pipe)
            if also is not None:
                also(pipe)

        return recorded(run_together(self.client, queue, self.scripts)[0])

    def queue(self, events: Iterable[OrderEvent], pipe: Any) -> Any:
        """Queue the events on a pipeline of this ledger's client, to be applied at `execute()`."""
        for event in events:
            self.record(event, client=pipe)
        return pipe

    @staticmethod
    def results(replies: list[Any]) -> list[Recorded]:
        """What the ledger did with each event of an executed pipeline (see `queue`)."""
        return [recorded(reply) for reply in replies]


def database_of(client: redis.Redis) -> int:
    """Return the database number a client talks to."""
    return int(client.connection_pool.connection_kwargs.get("db", 0))
