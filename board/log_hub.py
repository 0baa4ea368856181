"""One reader of the event log per board process, handing each new entry to every open stream.

Fifty screens cost one blocking XREAD and one formatting of each entry, not fifty. The hub keeps
nothing but the entries in flight: a stream catches up from the log itself (XRANGE) after
subscribing, and takes from the hub only what is newer than what it has sent.
"""

import asyncio
import contextlib
import logging
from typing import Any, Final

import redis
import redis.asyncio

from board.redis_access import KEEPALIVE
from restaurant.names import EVENT_LOG_KEY
from waiter.client import first_line

log = logging.getLogger("board")

#: Entries read from the log at once.
BATCH: Final = 500
#: The kinds of entries the log holds; each is the name of its SSE event.
KINDS: Final = frozenset({"order", "ticket"})
#: What a stream receives when the hub lost Redis: it ends, and its browser comes back.
LOST: Final = "lost"

#: An entry as streams send it: its id as a pair of numbers, and its SSE message.
Entry = tuple[tuple[int, int], str]


def text_of(value: Any) -> str:
    """Text read from Redis (bytes that are not UTF-8 show as U+FFFD)."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def id_pair(entry_id: str) -> tuple[int, int]:
    """A stream entry id ("1700000000000-3") as a pair of numbers, for comparing."""
    millis, _, seq = entry_id.partition("-")
    return int(millis), int(seq or 0)


def frame(kind: str, entry_id: str, data: str) -> str:
    """One SSE message."""
    lines = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"event: {kind}\nid: {entry_id}\n{lines}\n"


def entries_of(rows: Any) -> list[Entry]:
    """The log's rows (id, fields) as entries ready to send; rows of other kinds left out."""
    entries = []
    for raw_id, fields in rows:
        entry_id = text_of(raw_id)
        named = {text_of(key): text_of(value) for key, value in fields.items()}
        kind = named.get("k", "")
        if kind in KINDS:
            entries.append((id_pair(entry_id), frame(kind, entry_id, named.get("e", "{}"))))
        else:
            entries.append((id_pair(entry_id), ""))
    return entries


class LogHub:
    """Reads the log while any stream listens, and hands every batch to each of them."""

    def __init__(self, live: redis.asyncio.Redis) -> None:
        self.live = live
        self.listeners: set[asyncio.Queue[list[Entry] | str]] = set()
        self._task: asyncio.Task[None] | None = None
        self._placed = asyncio.Event()

    async def subscribe(self) -> "asyncio.Queue[list[Entry] | str]":
        """A queue of what the hub reads from now on: batches of entries ([] means no news).

        It returns once the reader knows the log entry it reads after, so that whatever the
        caller then reads from the log itself meets what the hub hands it, with no gap."""
        queue: asyncio.Queue[list[Entry] | str] = asyncio.Queue()
        self.listeners.add(queue)
        if self._task is None:
            self._placed = asyncio.Event()
            self._task = asyncio.ensure_future(self._read(self._placed))
        try:
            await self._placed.wait()
        except asyncio.CancelledError:
            self.listeners.discard(queue)  # the browser left before its stream began
            raise
        return queue

    def unsubscribe(self, queue: "asyncio.Queue[list[Entry] | str]") -> None:
        """Stop handing news to `queue`."""
        self.listeners.discard(queue)

    async def _read(self, placed: asyncio.Event) -> None:
        try:
            newest: Any = await self.live.xrevrange(EVENT_LOG_KEY, count=1)
            cursor = text_of(newest[0][0]) if newest else "0-0"
            placed.set()
            while self.listeners:
                reply: Any = await self.live.xread(
                    {EVENT_LOG_KEY: cursor}, count=BATCH, block=int(KEEPALIVE * 1000)
                )
                batch: list[Entry] = []
                for _, rows in reply or []:
                    if rows:
                        cursor = text_of(rows[-1][0])
                    batch += entries_of(rows)
                for queue in list(self.listeners):
                    queue.put_nowait(batch)
        except (redis.RedisError, OSError) as exc:
            log.warning("event log: Redis failed: %s; the pages resume from their last id",
                        first_line(exc))  # fmt: skip
            # Whatever cut this connection may have cut its idle siblings too: start afresh.
            with contextlib.suppress(redis.RedisError, OSError):
                await self.live.connection_pool.disconnect()
            # Only then are the streams told, with no wait in between: a page that comes back
            # subscribes to a new reader, never to this one on its way out.
            self._task = None
            for queue in list(self.listeners):
                queue.put_nowait(LOST)
        finally:
            self._task = None
            placed.set()  # a reader that failed before it began: its listeners have LOST
