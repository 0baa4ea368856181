"""The worker's consumer: Flower's task events leave in batches, not one PUBLISH each."""

from contextlib import suppress
from typing import Any

from celery.worker.consumer import Consumer
from kombu.exceptions import OperationalError
from redis import RedisError

from kitchen.green import green


class KitchenConsumer(Consumer):  # type: ignore[misc]
    """Celery's consumer, publishing buffered task events at most every few milliseconds.

    Celery buffers task events (received, started, succeeded, ...) and publishes the buffer
    on the event loop's next turn: with one order per turn, that is one PUBLISH per event,
    three per order, and about half of a busy worker's main process. Waiting
    `kitchen_event_batch_seconds` first sends them as one `task.multi` message, which Flower
    reads like the single ones; monitoring hears of each task that much later. 0 keeps
    Celery's behaviour. Nothing else waits on these events.

    Celery buffers only on prefork's event loop; on the gevent pool (no event loop, every
    dish's greenlet sending its own events) this consumer buffers them too, and a gevent timer
    publishes them.
    """

    _flush_pending = False
    _dispatcher: Any = None

    @property
    def event_dispatcher(self) -> Any:
        """The dispatcher of this worker's events (set by Celery's Events step)."""
        return self._dispatcher

    @event_dispatcher.setter
    def event_dispatcher(self, dispatcher: Any) -> None:
        if dispatcher is not None and not getattr(self, "hub", None) and green():
            dispatcher.buffer_group = frozenset({"task"})
            dispatcher.on_send_buffered = self.on_send_event_buffered
        self._dispatcher = dispatcher

    def on_send_event_buffered(self) -> None:
        """Publish the buffered task events soon: now, or after the batching delay."""
        delay = float(self.app.conf.kitchen_event_batch_seconds)
        if self._flush_pending:
            return
        if self.hub and delay > 0:
            self._flush_pending = True
            self.hub.call_later(delay, self._flush_batch)
        elif self.hub:
            super().on_send_event_buffered()
        else:
            import gevent  # noqa: PLC0415 (buffering is set up above only on gevent)

            self._flush_pending = True
            gevent.spawn_later(delay, self._flush_batch)

    def _flush_batch(self) -> None:
        self._flush_pending = False
        self._flush_events()

    def stop(self) -> None:
        """Publish what is buffered before the event dispatcher closes."""
        self._flush_before_closing()
        super().stop()

    def shutdown(self) -> None:
        """Publish what is buffered before the event dispatcher closes."""
        self._flush_before_closing()
        super().shutdown()

    def _flush_before_closing(self) -> None:
        # Best effort, like Celery's own flushing: the broker may be gone already.
        with suppress(OperationalError, RedisError, OSError):
            self._flush_events()
