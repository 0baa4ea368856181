"""Waiting for the replicas of the Redis servers an order was written to, before saying so."""

import redis

from restaurant.connections import REDIS_SCHEMES
from restaurant.exceptions import NotReplicated
from restaurant.ledger import Ledger
from restaurant.replication import confirm, replicas_wanted
from waiter.client import bounded_client
from waiter.conf import BrokerSettings
from waiter.exceptions import RedisUnavailable


def replicated_by(conf: BrokerSettings, ledger: Ledger) -> list[tuple[redis.Redis, int]]:
    """The Redis servers whose replicas must have an order before it counts as placed."""
    wanted = [(ledger.client, replicas_wanted(conf.result_backend))]
    if conf.broker_url != conf.result_backend and conf.broker_url.startswith(REDIS_SCHEMES):
        wanted.append((bounded_client(conf, conf.broker_url), replicas_wanted(conf.broker_url)))
    return [(client, replicas) for client, replicas in wanted if replicas > 0]


def confirm_placed(replicated: list[tuple[redis.Redis, int]]) -> None:
    """Return once each Redis's replicas have what it took; RedisUnavailable if they do not."""
    for client, replicas in replicated:
        try:
            confirm(client, replicas)
        except NotReplicated as exc:
            raise RedisUnavailable(
                f"Redis took the orders but {exc}: they could be lost if its master failed now"
            ) from None
