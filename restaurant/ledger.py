"""The order ledger in Redis: each order's state and history, kept in step with its events."""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final, overload

import redis
from pydantic import ValidationError
from redis.client import Pipeline
from redis.commands.core import Script

from restaurant.events import Kind, OrderEvent, parse_event
from restaurant.names import (
    ALL_CHANNEL,
    DEAD_INDEX_KEY,
    DEAD_LETTERS_KEY,
    HISTORY_KEY,
    OPEN_KEY,
    ORDER_CHANNEL,
    ORDER_KEY,
    RECENT_KEY,
    TABLE_CHANNEL,
    TABLE_OPEN_PREFIX,
)
from restaurant.pipelines import run_together
from restaurant.settings import Settings, load_settings

#: The newest events kept in an order's history (a retried dish has about a dozen).
HISTORY_LIMIT: Final = 200

_ADVANCE = resources.files("restaurant").joinpath("ledger.lua").read_text(encoding="utf-8")


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

    def as_dict(self) -> dict[str, Any]:
        """Return the record as plain data, its history as event dictionaries."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["history"] = [event.model_dump(exclude_none=True) for event in self.history]
        return data


class Ledger:
    """Reads and advances orders in the ledger kept in one Redis database."""

    def __init__(
        self,
        client: redis.Redis,
        retention: int,
        recent_limit: int,
        dead_letter_limit: int = 10_000,
    ) -> None:
        self.client = client
        self.retention = retention
        self.recent_limit = recent_limit
        self.dead_letter_limit = dead_letter_limit
        self._advance = client.register_script(_ADVANCE)
        self.db = database_of(client)

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings | None = None) -> "Ledger":
        """Return the ledger on `client`, with retention and caps from the environment."""
        settings = settings or load_settings()
        return cls(client, settings.retention, settings.recent_limit, settings.dead_letter_limit)

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
        keys = [
            ORDER_KEY.format(order_id=event.order_id),
            HISTORY_KEY.format(order_id=event.order_id),
            OPEN_KEY,
            RECENT_KEY,
            DEAD_INDEX_KEY,
            DEAD_LETTERS_KEY,
        ]
        args: list[str | int] = [
            event.to_json(),
            event.rank,
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
        earlier: Sequence[OrderEvent] = (),
    ) -> Recorded:
        """Apply `earlier`, then `event`, then run what `also` queues, in one round trip."""

        def queue(pipe: Pipeline) -> None:
            self.queue([*earlier, event], pipe)
            if also is not None:
                also(pipe)

        return recorded(run_together(self.client, queue, self.scripts)[len(earlier)])

    def queue(self, events: Iterable[OrderEvent], pipe: Any) -> Any:
        """Queue the events on a pipeline of this ledger's client, to be applied at `execute()`."""
        for event in events:
            self.record(event, client=pipe)
        return pipe

    @staticmethod
    def results(replies: list[Any]) -> list[Recorded]:
        """What the ledger did with each event of an executed pipeline (see `queue`)."""
        return [recorded(reply) for reply in replies]

    # --- Reading --------------------------------------------------------------------------
    def status(self, order_id: str) -> str | None:
        """Return the order's status, or None if the ledger does not know it."""
        raw = self.client.hget(ORDER_KEY.format(order_id=order_id), "status")
        return raw.decode() if isinstance(raw, bytes) else raw

    def latest_events(self, order_ids: list[str]) -> list[OrderEvent]:
        """Return the latest event of each known order, in one round trip."""
        with self.client.pipeline(transaction=False) as pipe:
            for order_id in order_ids:
                pipe.lindex(HISTORY_KEY.format(order_id=order_id), -1)
            return _events(raw for raw in pipe.execute() if raw is not None)

    def order(self, order_id: str, *, with_history: bool = True) -> OrderRecord | None:
        """Return the order's record (and history), or None if the ledger does not know it."""
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(ORDER_KEY.format(order_id=order_id))
            pipe.lrange(HISTORY_KEY.format(order_id=order_id), 0, -1)
            fields, history = pipe.execute()
        if not fields:
            return None
        record = _record_from_hash(fields)
        if with_history:
            record.history.extend(_events(history))
        return record

    def records(self, order_ids: list[str]) -> dict[str, OrderRecord]:
        """Return the records (without history) of those of these orders the ledger knows."""
        if not order_ids:
            return {}
        with self.client.pipeline(transaction=False) as pipe:
            for order_id in order_ids:
                pipe.hgetall(ORDER_KEY.format(order_id=order_id))
            replies = pipe.execute()
        return {
            order_id: _record_from_hash(fields)
            for order_id, fields in zip(order_ids, replies, strict=True)
            if fields and b"rank" in fields
        }

    def history(self, order_id: str) -> list[OrderEvent]:
        """Return the order's events, oldest first."""
        return _events(self.client.lrange(HISTORY_KEY.format(order_id=order_id), 0, -1))

    def orders(
        self, *, table: int | None = None, open_only: bool = False, limit: int = 50
    ) -> list[OrderRecord]:
        """List orders, most recently created last: open ones, or recently active ones."""
        if open_only:
            key = OPEN_KEY if table is None else f"{TABLE_OPEN_PREFIX}{table}"
            ids = [_text(raw) for raw in self.client.zrevrange(key, 0, limit - 1)]
        else:
            ids = self._recent_ids(table, limit)
        with self.client.pipeline(transaction=False) as pipe:
            for order_id in ids:
                pipe.hgetall(ORDER_KEY.format(order_id=order_id))
            records = [_record_from_hash(fields) for fields in pipe.execute() if fields]
        return sorted(records, key=lambda record: record.created_at)

    def active_since(self, since: float) -> list[str]:
        """Return the ids of orders with an event at or after `since` (seconds since epoch)."""
        return [_text(raw) for raw in self.client.zrangebyscore(RECENT_KEY, since, "+inf")]

    def _recent_ids(self, table: int | None, limit: int) -> list[str]:
        if table is None:
            return [_text(raw) for raw in self.client.zrevrange(RECENT_KEY, 0, limit - 1)]
        # The recent index holds every table: read it in pages until enough are found.
        found: list[str] = []
        page, start = 500, 0
        while len(found) < limit:
            ids = [_text(raw) for raw in self.client.zrevrange(RECENT_KEY, start, start + page - 1)]
            if not ids:
                break
            with self.client.pipeline(transaction=False) as pipe:
                for order_id in ids:
                    pipe.hget(ORDER_KEY.format(order_id=order_id), "table")
                tables = pipe.execute()
            found.extend(
                order_id
                for order_id, raw in zip(ids, tables, strict=True)
                if raw is not None and _text(raw) == str(table)
            )
            start += page
        return found[:limit]


def database_of(client: redis.Redis) -> int:
    """Return the database number a client talks to."""
    return int(client.connection_pool.connection_kwargs.get("db", 0))


def recorded(reply: Any) -> Recorded:
    """Read the ledger script's reply to one event."""
    seq, status = reply
    return Recorded(int(seq), _text(status))


def _events(raws: Iterable[bytes | str]) -> list[OrderEvent]:
    """Decode stored events, leaving out any entry that is not one (planted or corrupt data)."""
    events = []
    for raw in raws:
        try:
            events.append(parse_event(raw))
        except ValidationError:
            continue
    return events


def _text(raw: Any) -> str:
    # Stored text is read as text, never loaded: bytes that are not UTF-8 show as U+FFFD.
    return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


def _record_from_hash(raw: dict[bytes, bytes]) -> OrderRecord:
    fields = {_text(key): _text(value) for key, value in raw.items()}

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
    )
