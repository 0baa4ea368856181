"""The scheduler: sends held orders to the kitchen when their time comes, and lost ones again.

Run it as `python -m waiter.scheduler` (the Procfile does).

It is a waiter that never sleeps: it claims due orders from Redis (restaurant/schedule.py) and
sends them by task name, as the waiter would. Run one or several; each order fires once.
"""

import logging
import signal
import sys
import time
from contextlib import suppress
from types import FrameType

import redis
from kombu.exceptions import OperationalError

from restaurant.connections import REDIS_SCHEMES
from restaurant.env import env_float
from restaurant.schedule import Schedule
from waiter.client import bounded_client, celery_app, open_ledger
from waiter.firing import restore, send_held
from waiter.recovery import find_lost, send_again

logger = logging.getLogger("waiter.scheduler")


class Scheduler:
    """Fires due orders every `interval` seconds (sooner when one is due sooner)."""

    def __init__(self, interval: float, lost_after: float) -> None:
        self.interval = interval
        self.app = celery_app()
        self.ledger = open_ledger(self.app.conf, name="scheduler")
        self.schedule = Schedule(self.ledger.client)
        self.stopping = False
        self.lost_after = lost_after
        self.next_recovery = time.monotonic() + lost_after / 2
        # Only a Redis broker can lose a message between taking it and recording it.
        broker = str(self.app.conf.broker_url)
        self.broker = (
            bounded_client(self.app.conf, broker, "scheduler")
            if broker.startswith(REDIS_SCHEMES)
            else None
        )

    def recover_lost(self) -> int:
        """Send again the orders the Redis broker lost; return how many."""
        if self.broker is None or time.monotonic() < self.next_recovery:
            return 0
        self.next_recovery = time.monotonic() + self.lost_after / 2
        lost = find_lost(self.ledger, self.broker, time.time(), self.lost_after)
        return len(send_again(self.app, lost)) if lost else 0

    def fire_due(self) -> int:
        """Send every order due now; return how many were sent."""
        due = self.schedule.claim_due(time.time())
        if not due:
            return 0
        handled: set[str] = set()
        try:
            sent = send_held(self.app, self.ledger, due, "scheduler", handled)
        except (OperationalError, OSError, redis.RedisError) as exc:
            logger.warning("Could not send held orders (will try again): %s", exc)
            restore(self.schedule, due, handled)
            return 0
        finally:
            with suppress(redis.RedisError, OSError):
                self.schedule.done(sorted(handled))
        for order_id in sent:
            logger.info("Fired held order %s", order_id)
        return len(sent)

    def run(self) -> None:
        """Fire due orders until asked to stop (SIGTERM or Ctrl-C)."""
        logger.info("Scheduler ready: firing held orders every %.2f s at most", self.interval)
        while not self.stopping:
            try:
                self.fire_due()
                self.recover_lost()
                next_at = self.schedule.next_fire_at()
            except (redis.RedisError, OperationalError, OSError) as exc:
                logger.warning("Redis trouble: %s; trying again in %.1f s", exc, self.interval)
                next_at = None
            wait = self.interval if next_at is None else next_at - time.time()
            time.sleep(min(max(wait, 0.01), self.interval))
        logger.info("Scheduler stopped")

    def stop(self, signum: int, frame: FrameType | None) -> None:
        """Finish the current round, then stop."""
        self.stopping = True


def main() -> int:
    """Run the scheduler until SIGTERM or Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s: %(levelname)s] %(message)s")
    scheduler = Scheduler(
        env_float("SCHEDULER_INTERVAL", 0.5, minimum=0.01, maximum=60),
        env_float("ORDER_LOST_AFTER", 30.0, minimum=1.0, maximum=86_400),
    )
    signal.signal(signal.SIGTERM, scheduler.stop)
    signal.signal(signal.SIGINT, scheduler.stop)
    scheduler.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
