"""The Celery settings the waiter needs before (or without) Celery, read from celeryconfig."""

import os
from dataclasses import dataclass
from typing import Protocol

import celeryconfig


class BrokerSettings(Protocol):
    """Where the broker and the result backend are, and how long to wait for them.

    A Celery app's `conf` has these too, so either may be passed.
    """

    @property
    def broker_url(self) -> str:
        """The broker's URL."""

    @property
    def result_backend(self) -> str:
        """The result backend's URL (the ledger lives in its database)."""

    @property
    def broker_connection_timeout(self) -> float:
        """Seconds to wait for a connection."""


@dataclass(frozen=True)
class Settings:
    """The settings read straight from celeryconfig, as Celery's `app.conf` would give them."""

    broker_url: str
    result_backend: str
    broker_connection_timeout: float


def read_settings() -> Settings:
    """Read celeryconfig now, honouring Celery's own CELERY_BROKER_URL and CELERY_RESULT_BACKEND."""
    return Settings(
        broker_url=os.environ.get("CELERY_BROKER_URL") or celeryconfig.broker_url,
        result_backend=os.environ.get("CELERY_RESULT_BACKEND") or celeryconfig.result_backend,
        broker_connection_timeout=celeryconfig.broker_connection_timeout,
    )
