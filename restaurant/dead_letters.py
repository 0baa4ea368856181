"""Dead letters: orders that failed for good, kept (bounded) with why, for `waiter failed`."""

from typing import Any

import msgspec
import redis

from restaurant.events import plausible_table
from restaurant.names import DEAD_INDEX_KEY, DEAD_LETTERS_KEY


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """One order that failed for good, as the ledger filed it when it failed."""

    order_id: str
    #: A whole number once built: one no table has (a refused message's 1e+20) becomes None.
    table: int | float | None = None
    dish: str | None = None
    station: str | None = None
    note: str | None = None
    #: Why it failed.
    reason: str = ""
    #: The last error met, where it differs from the reason.
    error: str | None = None
    #: The attempt that failed (1 for the first).
    attempt: int = 0
    #: How many times that attempt's message reached a cook.
    deliveries: int = 0
    worker: str | None = None
    created_at: float | None = None
    failed_at: float = 0.0

    def __post_init__(self) -> None:
        if self.table is not None:
            msgspec.structs.force_setattr(self, "table", plausible_table(self.table))

    def as_dict(self) -> dict[str, Any]:
        """Return the letter as plain data."""
        return msgspec.structs.asdict(self)


class DeadLetters:
    """Reads and empties the dead letters that the ledger files (see restaurant/ledger.lua)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def count(self) -> int:
        """Return how many dead letters there are."""
        return int(self.client.zcard(DEAD_INDEX_KEY))

    def newest(self, limit: int) -> list[DeadLetter]:
        """Return up to `limit` dead letters, newest last."""
        ids: list[bytes] = self.client.zrevrange(DEAD_INDEX_KEY, 0, limit - 1)  # type: ignore[assignment]
        if not ids:
            return []
        letters = [_parse(raw) for raw in self.client.hmget(DEAD_LETTERS_KEY, ids)]
        return sorted(
            (letter for letter in letters if letter is not None), key=lambda x: x.failed_at
        )

    def get(self, order_id: str) -> DeadLetter | None:
        """Return the dead letter of one order, or None."""
        return _parse(self.client.hget(DEAD_LETTERS_KEY, order_id))

    def remove(self, order_ids: list[str]) -> int:
        """Delete these dead letters (and only these); return how many there were."""
        if not order_ids:
            return 0
        with self.client.pipeline(transaction=True) as pipe:
            pipe.zrem(DEAD_INDEX_KEY, *order_ids)
            pipe.hdel(DEAD_LETTERS_KEY, *order_ids)
            removed, _ = pipe.execute()
        return int(removed)


def _parse(raw: bytes | str | None) -> DeadLetter | None:
    if raw is None:
        return None
    try:
        return _DECODER.decode(raw)
    except msgspec.DecodeError:
        return None


_DECODER = msgspec.json.Decoder(DeadLetter, strict=False)
