"""Leases in Redis that make each order sent once by one waiter and cooked by one cook."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

import msgspec
import redis
from redis.commands.core import Script

from restaurant.events import OrderEvent
from restaurant.ledger import ADVANCE_SCRIPT, Ledger
from restaurant.names import COOK_LEASE_KEY, ORDER_KEY, SENDING_KEY
from restaurant.records import Recorded, recorded

#: How long a waiter may take to send an order's message before another may send it instead.
SENDING_LEASE_SECONDS: Final = 30


def _script(name: str) -> str:
    return resources.files("restaurant").joinpath(name).read_text(encoding="utf-8")


def _spliced(main: str, **functions: str) -> str:
    """A script that runs `main` with other scripts defined ahead of it as local functions."""
    defined = "".join(
        f"local function {name}(KEYS, ARGV)\n{body}\nend\n" for name, body in functions.items()
    )
    return defined + main


@dataclass(frozen=True)
class CookClaim:
    """What the ledger said about cooking one delivery of an order's message."""

    #: 'finished', 'busy', 'poison' or 'cook' (see restaurant/cook_claim.lua).
    verdict: str
    #: The final status ('finished') or the lease holder ('busy').
    detail: str
    #: Which delivery of this attempt this is (0 when not counted).
    delivery: int
    #: The first attempt of the order's current round (1, or where `waiter retry` restarted).
    first_attempt: int
    #: False when the ledger could not be asked: the cook goes ahead without a lease.
    guarded: bool = True
    #: What the ledger did with each of the first events claimed with it ('cook' only).
    recorded: tuple[Recorded, ...] = ()


@dataclass(frozen=True)
class ResultWrite:
    """A value to write, and publish on its key, with the event that makes an order ready.

    The delivery the claim counts is not known before: it goes between `head` and `tail`.
    """

    key: str
    head: str
    tail: str
    #: Seconds the value is kept (0: for ever).
    expires: int = 0

    def text(self, delivery: int) -> str:
        """The value as written for a given delivery."""
        return f"{self.head}{delivery}{self.tail}"


class Claims:
    """The lease scripts, registered once per Redis client."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.cook_claim = client.register_script(_script("cook_claim.lua"))
        self.cook_heartbeat = client.register_script(_script("cook_heartbeat.lua"))
        self.send_claim = client.register_script(_script("send_claim.lua"))
        self.cook_start = client.register_script(
            _spliced(
                _script("cook_start.lua"),
                claim=_script("cook_claim.lua"),
                advance=ADVANCE_SCRIPT,
            )
        )

    @property
    def scripts(self) -> list[Script]:
        """The Lua scripts of the leases (to load again if Redis has lost them)."""
        return [self.cook_claim, self.cook_heartbeat, self.send_claim, self.cook_start]

    def cook_lease(self, order_id: str, attempt: int, seconds: float) -> "CookLease":
        """Return a (not yet claimed) lease on one attempt at an order."""
        return CookLease(self, order_id, attempt, seconds)

    def claim_sending(self, order_ids: list[str]) -> list[str]:
        """For each order say 'mine' (send it now), 'sent' (already sent) or 'busy' (another is)."""
        token = uuid.uuid4().hex
        with self.client.pipeline(transaction=False) as pipe:
            for order_id in order_ids:
                keys = [ORDER_KEY.format(order_id=order_id), SENDING_KEY.format(order_id=order_id)]
                self.send_claim(keys=keys, args=[token, SENDING_LEASE_SECONDS], client=pipe)
            return [_text(reply) for reply in pipe.execute()]

    def mark_sent(self, order_ids: list[str]) -> None:
        """Record that these orders' messages are in the queue, and free their sending leases."""
        with self.client.pipeline(transaction=False) as pipe:
            for order_id in order_ids:
                pipe.hset(ORDER_KEY.format(order_id=order_id), "sent", 1)
                pipe.delete(SENDING_KEY.format(order_id=order_id))
            pipe.execute()


class CookLease:
    """One cook's lease on one attempt at an order: claimed, then kept alive while cooking."""

    def __init__(self, claims: Claims, order_id: str, attempt: int, seconds: float) -> None:
        self.claims = claims
        self.order_id = order_id
        self.attempt = attempt
        self.milliseconds = max(1, round(seconds * 1000))
        self.token = f"{attempt}:{uuid.uuid4().hex}"
        self._keys = [ORDER_KEY.format(order_id=order_id), COOK_LEASE_KEY.format(order_id=order_id)]

    def claim(
        self,
        max_deliveries: int,
        retention: int,
        ledger: Ledger | None = None,
        first_events: Sequence[OrderEvent] = (),
        result: ResultWrite | None = None,
    ) -> CookClaim:
        """Count this delivery and take the lease, unless the order is done or held.

        With a `ledger`, the `first_events` of the dish are recorded in the same step when the
        lease is taken, each as of the delivery counted (restaurant/cook_start.lua), and then
        the `result`, if the last of them made the order ready.
        """
        args: list[str | int] = [
            self.attempt,
            self.token,
            self.milliseconds,
            max_deliveries,
            retention,
        ]
        if ledger is None or not first_events:
            verdict, detail, delivery, first = self.claims.cook_claim(keys=self._keys, args=args)
            return CookClaim(_text(verdict), _text(detail), int(delivery), int(first))
        if any(event.order_id != self.order_id for event in first_events):
            raise ValueError(f"events of another order claimed with order {self.order_id}")
        ledger_keys, ledger_args = ledger.script_context(first_events[0])
        args.extend(ledger_args)
        if result is None:
            args.extend(["", "", "", 0])
        else:
            args.extend([result.key, result.head, result.tail, result.expires])
        for event in first_events:
            first_delivery = msgspec.structs.replace(event, delivery=1)
            args.extend([first_delivery.to_json(), first_delivery.rank, event.rank_per_delivery])
        claimed, *replies = self.claims.cook_start(keys=[*self._keys, *ledger_keys[1:]], args=args)
        verdict, detail, delivery, first = claimed
        return CookClaim(
            _text(verdict),
            _text(detail),
            int(delivery),
            int(first),
            recorded=tuple(recorded(reply) for reply in replies),
        )

    def renew(self, client: Any = None) -> tuple[bool, str]:
        """Keep the lease; return (still ours, the order's status or else the new holder).

        With a pipeline as `client`, the call is queued: read its reply with `renewal`.
        """
        reply = self.claims.cook_heartbeat(
            keys=self._keys, args=[self.token, self.milliseconds], client=client
        )
        return (True, "") if client is not None else renewal(reply)


def renewal(reply: Any) -> tuple[bool, str]:
    """Read a lease renewal's reply: (still ours, the order's status or else the new holder)."""
    state, detail = reply
    return _text(state) == "held", _text(detail)


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)
