"""Writes confirmed on replicas before the restaurant says they happened (Redis WAIT).

Redis replicates asynchronously: a master that dies can take its last acknowledged writes with
it, and Sentinel then promotes a replica that never had them. So with replicas the waiter says
`created` only once a replica has the order, and a cook acknowledges a message only once a
replica has its outcome. WAIT counts the replicas that have every write of the connection it
runs on; a write of its own just before it makes that every write the server took until then,
from any client, since all of them reach a replica in one stream, in order.
"""

import time
from typing import Final

import redis

from restaurant import sentinel
from restaurant.env import env_int
from restaurant.exceptions import NotReplicated

#: The key the fence writes, so that WAIT covers everything written before it.
FENCE_KEY: Final = "restaurant:replication:fence"
#: The longest a write waits for its replicas, well within the clients' socket timeouts.
WAIT_SECONDS: Final = 1.0


def replicas_wanted(url: str) -> int:
    """How many replicas must confirm a write to this Redis (REDIS_WAIT_REPLICAS).

    One by default on a Sentinel URL, whose master has replicas; none on a single server.
    """
    default = 1 if sentinel.is_sentinel(url) else 0
    return env_int("REDIS_WAIT_REPLICAS", default, minimum=0, maximum=16)


def confirm(client: redis.Redis, replicas: int, seconds: float = WAIT_SECONDS) -> None:
    """Return once `replicas` replicas have every write the server has taken; else raise.

    A master with fewer replicas connected (the one promoted by a failover, until its old
    master is back as its replica) is waited on for those it has: none can confirm more, and
    with none there is nothing to wait for. Raises NotReplicated when fewer confirm within
    `seconds` (a connected replica far behind).
    """
    if replicas <= 0:
        return
    wanted = min(replicas, _connected(client))
    if wanted <= 0:
        return
    with client.pipeline(transaction=False) as pipe:
        pipe.incr(FENCE_KEY)
        pipe.execute_command("WAIT", wanted, int(seconds * 1000))  # type: ignore[no-untyped-call]
        _, confirmed = pipe.execute()
    if int(confirmed) >= wanted:
        return
    # A replica may have left meanwhile: count again before saying the write is not safe.
    wanted = min(replicas, _connected(client, fresh=True))
    if int(confirmed) < wanted:
        raise NotReplicated(
            f"only {confirmed} of the {wanted} replicas asked for (REDIS_WAIT_REPLICAS) "
            f"confirmed the write within {seconds:g} s"
        )


#: How long the count of a master's replicas is trusted before it is asked again.
_COUNT_SECONDS: Final = 1.0
_counts: dict[int, tuple[float, int]] = {}


def _connected(client: redis.Redis, *, fresh: bool = False) -> int:
    """How many replicas the server has connected (INFO replication), asked once a second."""
    now = time.monotonic()
    known = _counts.get(id(client))
    if not fresh and known is not None and now - known[0] < _COUNT_SECONDS:
        return known[1]
    count = int(client.info("replication").get("connected_slaves", 0))
    _counts[id(client)] = (now, count)
    return count
