"""`/events`: Server-Sent Events from the Redis Stream event log, resumable by Last-Event-ID.

A browser without a Last-Event-ID, or with one the capped log no longer reaches back to, gets
a snapshot first (its id is the log's last entry when it was taken, atomically); then, and for
a browser coming back with a valid id, every entry after it, each once, in the log's order.
The server keeps nothing: whatever the browser missed, the log in Redis still has.
"""

import asyncio
import logging
import re
from typing import Any, Final

import redis
import redis.asyncio
from tornado.iostream import StreamClosedError

from board.kitchen import ActionFailed, Kitchen
from board.log_hub import BATCH, LogHub, entries_of, frame, text_of
from board.security import Guarded
from restaurant.names import EVENT_LOG_KEY
from waiter.client import first_line

log = logging.getLogger("board")

#: What a stream entry id looks like (milliseconds-sequence).
ENTRY_ID: Final = re.compile(r"^(\d{1,20})-(\d{1,20})$")


def parse_id(raw: str | None) -> tuple[int, int] | None:
    """A stream entry id as a pair of numbers, or None if `raw` is not one."""
    match = ENTRY_ID.match((raw or "").strip())
    return (int(match[1]), int(match[2])) if match else None


async def reaches_back(live: redis.asyncio.Redis, last: tuple[int, int]) -> bool:
    """Whether every log entry after `last` is still in the log (none trimmed, none lost)."""
    try:
        info = await live.xinfo_stream(EVENT_LOG_KEY)
    except redis.ResponseError:
        return False  # no log at all: Redis lost it, or nothing ever happened
    fields = {text_of(key): value for key, value in info.items()}
    newest = parse_id(text_of(fields.get("last-generated-id", "0-0")))
    if newest is None or last > newest:
        return False  # an id from before Redis lost its data
    deleted = parse_id(text_of(fields.get("max-deleted-entry-id") or "0-0")) or (0, 0)
    if last < deleted:
        return False  # XDEL took an entry after it
    first = fields.get("first-entry")
    first_id = parse_id(text_of(first[0])) if first else None
    if first_id is not None and last >= first_id:
        return True  # trimming only takes entries older than the first one left
    # Older than everything left (or nothing left): fine only if nothing was ever trimmed.
    return int(fields.get("entries-added", -1)) == int(fields.get("length", 0)) and not (
        first_id is None and last < newest
    )


class EventStream(Guarded):
    """GET /events: the snapshot if needed, then the log as it grows, until either side leaves."""

    _pump: "asyncio.Task[None] | None" = None
    _left = False

    def initialize(self, kitchen: Kitchen, live: redis.asyncio.Redis, hub: LogHub) -> None:
        """The ledger (for snapshots), the asyncio client that reads the log, and its hub."""
        self.kitchen = kitchen
        self.live = live
        self.hub = hub

    async def get(self) -> None:
        """Stream; when Redis fails, end the response so the browser resumes from its last id."""
        asked = self.request.headers.get("Last-Event-ID") or self.get_query_argument("last", "")
        last = parse_id(asked)
        try:
            start, first = await self._starting_point(last)
        except (ActionFailed, redis.RedisError, OSError) as exc:
            # Before any byte is sent, say why; the page tries again in a moment.
            log.warning("event stream: cannot start: %s", first_line(exc))
            self.refuse(503, f"the kitchen's Redis is out of reach: {first_line(exc)}")
            return
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        self.write("retry: 1000\n\n")
        if first:
            self.write(first)
        self._pump = asyncio.ensure_future(self._follow(start))
        try:
            await self._pump
        except StreamClosedError:
            return  # the browser left
        except asyncio.CancelledError:
            if self._left:
                return  # the browser left while we waited for news
            raise  # the board is stopping
        except (redis.RedisError, OSError) as exc:
            log.warning(
                "event stream: Redis failed: %s; the page resumes from its last id", first_line(exc)
            )
        if not self._finished:
            self.finish()

    def on_connection_close(self) -> None:
        """The browser left: stop waiting for news on its behalf."""
        self._left = True
        if self._pump is not None:
            self._pump.cancel()

    async def _starting_point(self, last: tuple[int, int] | None) -> tuple[str, str]:
        """The id to follow the log from, and the snapshot message to send first ('' if none)."""
        if last is not None and await reaches_back(self.live, last):
            return f"{last[0]}-{last[1]}", ""
        loop = asyncio.get_running_loop()
        start, shot = await loop.run_in_executor(None, self.kitchen.snapshot_json)
        return start, frame("snapshot", start, shot)

    async def _follow(self, start: str) -> None:
        """Send every entry after `start`: what the log holds now, then what the hub reads
        (each once: the hub's entries are sent only when newer than the last sent)."""
        queue = await self.hub.subscribe()
        try:
            last = start
            while True:  # caught up from the log itself, after subscribing: no gap
                rows: Any = await self.live.xrange(EVENT_LOG_KEY, min=f"({last}", count=BATCH)
                if not rows:
                    break
                for _, message in entries_of(rows):
                    self.write(message)
                last = text_of(rows[-1][0])
            await self.flush()
            sent = parse_id(last) or (0, 0)
            while True:
                batch = await queue.get()
                if isinstance(batch, str):  # LOST
                    raise redis.ConnectionError("the board lost its Redis connection")
                if not batch:
                    self.write(": keep-alive\n\n")
                for entry_id, message in batch:
                    if entry_id > sent:
                        self.write(message)
                        sent = entry_id
                await self.flush()
        finally:
            self.hub.unsubscribe(queue)
