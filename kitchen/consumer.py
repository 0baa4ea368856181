"""The worker's consumer: Flower's task events leave in batches, not one PUBLISH each."""

from contextlib import suppress

from celery.worker.consumer import Consumer
from kombu.exceptions import OperationalError
from redis import RedisError


class KitchenConsumer(Consumer):  # type: ignore[misc]
    """Celery's consumer, publishing buffered task events at most every few milliseconds.

    Celery buffers task events (received, started, succeeded, ...) and publishes the buffer
    on the event loop's next turn: with one order per turn, that is one PUBLISH per event,
    three per order, and about half of a busy worker's main process. Waiting
    `kitchen_event_batch_seconds` first sends them as one `task.multi` message, which Flower
    reads like the single ones; monitoring hears of each task that much later. 0 keeps
    Celery's behaviour. Nothing else waits on these events.
    """

    _flush_pending = False

    def on_send_event_buffered(self) -> None:
        """Publish the buffered task events soon: now, or after the batching delay."""
        delay = float(self.app.conf.kitchen_event_batch_seconds)
        if not self.hub or delay <= 0:
            super().on_send_event_buffered()
        elif not self._flush_pending:
            self._flush_pending = True
            self.hub.call_later(delay, self._flush_batch)

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
