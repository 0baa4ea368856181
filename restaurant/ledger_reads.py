"""Reading the order ledger: each order's status, record and history, and lists of orders."""

import redis

from restaurant.events import OrderEvent
from restaurant.names import HISTORY_KEY, OPEN_KEY, ORDER_KEY, RECENT_KEY, TABLE_OPEN_PREFIX
from restaurant.records import OrderRecord, decode_events, decode_text, record_from_hash


class LedgerReader:
    """The ledger's reads, on the client of the Ledger that holds them."""

    client: redis.Redis

    def status(self, order_id: str) -> str | None:
        """Return the order's status, or None if the ledger does not know it."""
        raw = self.client.hget(ORDER_KEY.format(order_id=order_id), "status")
        return raw.decode() if isinstance(raw, bytes) else raw

    def latest_events(self, order_ids: list[str]) -> list[OrderEvent]:
        """Return the latest event of each known order, in one round trip."""
        with self.client.pipeline(transaction=False) as pipe:
            for order_id in order_ids:
                pipe.lindex(HISTORY_KEY.format(order_id=order_id), -1)
            return decode_events(raw for raw in pipe.execute() if raw is not None)

    def order(self, order_id: str, *, with_history: bool = True) -> OrderRecord | None:
        """Return the order's record (and history), or None if the ledger does not know it."""
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(ORDER_KEY.format(order_id=order_id))
            pipe.lrange(HISTORY_KEY.format(order_id=order_id), 0, -1)
            fields, history = pipe.execute()
        if not fields:
            return None
        record = record_from_hash(fields)
        if with_history:
            record.history.extend(decode_events(history))
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
            order_id: record_from_hash(fields)
            for order_id, fields in zip(order_ids, replies, strict=True)
            if fields and b"rank" in fields
        }

    def history(self, order_id: str) -> list[OrderEvent]:
        """Return the order's events, oldest first."""
        return decode_events(self.client.lrange(HISTORY_KEY.format(order_id=order_id), 0, -1))

    def orders(
        self, *, table: int | None = None, open_only: bool = False, limit: int = 50
    ) -> list[OrderRecord]:
        """List orders, most recently created last: open ones, or recently active ones."""
        if open_only:
            key = OPEN_KEY if table is None else f"{TABLE_OPEN_PREFIX}{table}"
            ids = [decode_text(raw) for raw in self.client.zrevrange(key, 0, limit - 1)]
        else:
            ids = self._recent_ids(table, limit)
        with self.client.pipeline(transaction=False) as pipe:
            for order_id in ids:
                pipe.hgetall(ORDER_KEY.format(order_id=order_id))
            records = [record_from_hash(fields) for fields in pipe.execute() if fields]
        return sorted(records, key=lambda record: record.created_at)

    def active_since(self, since: float) -> list[str]:
        """Return the ids of orders with an event at or after `since` (seconds since epoch)."""
        return [decode_text(raw) for raw in self.client.zrangebyscore(RECENT_KEY, since, "+inf")]

    def _recent_ids(self, table: int | None, limit: int) -> list[str]:
        if table is None:
            return [decode_text(raw) for raw in self.client.zrevrange(RECENT_KEY, 0, limit - 1)]
        # The recent index holds every table: read it in pages until enough are found.
        found: list[str] = []
        page, start = 500, 0
        while len(found) < limit:
            ids = [
                decode_text(raw)
                for raw in self.client.zrevrange(RECENT_KEY, start, start + page - 1)
            ]
            if not ids:
                break
            with self.client.pipeline(transaction=False) as pipe:
                for order_id in ids:
                    pipe.hget(ORDER_KEY.format(order_id=order_id), "table")
                tables = pipe.execute()
            found.extend(
                order_id
                for order_id, raw in zip(ids, tables, strict=True)
                if raw is not None and decode_text(raw) == str(table)
            )
            start += page
        return found[:limit]
