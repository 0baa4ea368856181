"""Redis clients that fail fast: one connection attempt, bounded waits, a name on the server."""

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def bounded_redis(url: str, timeout: float, name: str) -> redis.Redis:
    """A client that gives up after `timeout` seconds without retrying.

    Its connections carry `name`, so that CLIENT LIST on the server tells who is who.
    """
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        client_name=name,
        # No CLIENT SETINFO: two round trips per new connection, and redis-py reads its own
        # version from the package metadata for each one (about 1.5 ms here). The name is
        # enough to tell who is who.
        driver_info=None,
    )
