"""Redis clients that fail fast: one connection attempt, bounded waits, a name on the server."""

from typing import Final

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from restaurant import sentinel

#: The URLs of a Redis server, or of the sentinels that name one.
REDIS_SCHEMES: Final = ("redis://", "rediss://", "unix://", sentinel.SCHEME)

#: Tries of a command through Sentinel while the master is away: pauses of 0.2 s doubling to
#: 1 s, about 13 s in all, so that a failover (a few seconds after the sentinels agree that
#: the master is down) is waited out rather than reported.
FAILOVER_TRIES: Final = 15
FAILOVER_BACKOFF: Final = ExponentialBackoff(cap=1.0, base=0.1)
#: How long those tries wait in all: a lost master not back within it is reported.
FAILOVER_SECONDS: Final = sum(FAILOVER_BACKOFF.compute(n) for n in range(1, FAILOVER_TRIES + 1))


def bounded_redis(
    url: str,
    timeout: float,
    name: str,
    *,
    decode_responses: bool = False,
    wait_out_failovers: bool = True,
    max_connections: int | None = None,
) -> redis.Redis:
    """A client that gives up after `timeout` seconds without retrying.

    Its connections carry `name`, so that CLIENT LIST on the server tells who is who. A
    `sentinel://` URL gives a client of the master the sentinels name, found again at each new
    connection, so that a client outlives a failover: it tries again (FAILOVER_TRIES) while
    the sentinels elect a new master, unless `wait_out_failovers` is off (a caller with
    retries of its own, which must not be held up for seconds by one command).

    With `max_connections` (not through Sentinel), a caller finding them all in use waits for
    one, up to `timeout`, instead of opening another: hundreds of greenlets share a few.
    """
    options = {
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "client_name": name,
        # No CLIENT SETINFO: two round trips per new connection, and redis-py reads its own
        # version from the package metadata for each one (about 1.5 ms). The name is enough
        # to tell who is who.
        "driver_info": None,
        "decode_responses": decode_responses,
    }
    if not sentinel.is_sentinel(url):
        if max_connections is None:
            return redis.Redis.from_url(url, **options)
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=timeout, **options
        )
        return redis.Redis(connection_pool=pool)
    if wait_out_failovers:
        options["retry"] = Retry(FAILOVER_BACKOFF, FAILOVER_TRIES)
    where = sentinel.parse(url)
    asked = Sentinel(  # type: ignore[no-untyped-call]
        list(where.sentinels),
        sentinel_kwargs={
            "socket_connect_timeout": timeout,
            "socket_timeout": timeout,
            **sentinel.sentinel_kwargs(),
        },
    )
    master: redis.Redis = asked.master_for(  # type: ignore[no-untyped-call]
        sentinel.master_name(),
        db=where.db,
        password=where.password,
        username=where.username,
        **options,
    )
    return master
