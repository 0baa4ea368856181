"""The board's Redis clients: a bounded sync one for reads and actions, an async one for the log."""

from typing import Any, Final

import redis
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

from restaurant import sentinel
from waiter.client import bounded_client
from waiter.conf import BrokerSettings

#: Seconds an XREAD waits for news before the stream sends a keep-alive comment.
KEEPALIVE: Final = 15.0
#: The names the board's connections carry on the server (CLIENT LIST tells who is who).
SYNC_NAME: Final = "board"
LIVE_NAME: Final = "board-live"


def sync_client(conf: BrokerSettings) -> redis.Redis:
    """The bounded client of the result backend's database, shared as the waiter shares it."""
    return bounded_client(conf, conf.result_backend, SYNC_NAME)


def live_client(conf: BrokerSettings) -> redis.asyncio.Redis:
    """An asyncio client of the result backend's database for blocking reads of the event log.

    Its reads may wait KEEPALIVE seconds for news, so its socket timeout is longer than that;
    it never retries by itself: a broken connection ends the stream, and the browser comes
    back with its Last-Event-ID. A `sentinel://` URL follows the master the sentinels name.
    """
    url = conf.result_backend
    timeout = float(conf.broker_connection_timeout)
    options: dict[str, Any] = {
        "socket_connect_timeout": timeout,
        "socket_timeout": KEEPALIVE + timeout + 5.0,
        "retry": Retry(NoBackoff(), 0),
        "client_name": LIVE_NAME,
        "driver_info": None,
    }
    if not sentinel.is_sentinel(url):
        return redis.asyncio.Redis.from_url(url, **options)
    where = sentinel.parse(url)
    asked = Sentinel(  # type: ignore[no-untyped-call]
        list(where.sentinels),
        sentinel_kwargs={
            "socket_connect_timeout": timeout,
            "socket_timeout": timeout,
            **sentinel.sentinel_kwargs(),
        },
    )
    master: redis.asyncio.Redis = asked.master_for(
        sentinel.master_name(),
        db=where.db,
        password=where.password,
        username=where.username,
        **options,
    )
    return master
