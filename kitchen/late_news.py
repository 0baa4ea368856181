"""Reports a worker's main process owes the ledger, made from a thread until Redis takes them.

A dish killed at its hard time limit is recorded by the worker's main process (its pool process
is gone), whose event loop serves every other dish, and its message is already acknowledged:
if Redis is away at that moment (restarting, or the ledger's Redis apart from the broker) and
the failure is not recorded, the order stays `preparing` for good. So the main loop only queues
the report here; a thread of the main process makes it, and makes it again while Redis is away,
for as long as the worker runs. Reports that pile up meanwhile wait in order, in memory. The
ledger refuses a second outcome, so a report that lands late changes nothing if the order was
finished meanwhile. A worker that stops waits up to KITCHEN_REPORT_PATIENCE for what it owes,
and logs each report it could not make.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from celery.signals import worker_shutdown

logger = logging.getLogger(__name__)

#: A report: True once made (or refused for good), False while Redis is away.
Report = Callable[[], bool]

#: First and longest pause between two tries of a report while Redis is away, in seconds.
FIRST_PAUSE: Final = 0.1
LONGEST_PAUSE: Final = 1.0


class LateNews:
    """Reports made one after the other, in order, each tried until it is made."""

    def __init__(self) -> None:
        self._owed: deque[tuple[str, Report, float]] = deque()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, what: str, report: Report) -> None:
        """Queue `report` (`what` names it in the log), to be made as soon as Redis takes it."""
        with self._changed:
            self._owed.append((what, report, time.monotonic()))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="kitchen-late-news", daemon=True
                )
                self._thread.start()
            self._changed.notify_all()

    def owed(self) -> list[str]:
        """What is still to be reported, oldest first."""
        with self._changed:
            return [what for what, _, _ in self._owed]

    def wait(self, timeout: float) -> list[str]:
        """Wait up to `timeout` seconds for every report to be made; return what is still owed."""
        with self._changed:
            self._changed.wait_for(lambda: not self._owed, timeout)
        return self.owed()

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._owed))
                what, report, queued = self._owed[0]
            self._make(what, report, queued)
            with self._changed:
                self._owed.popleft()
                self._changed.notify_all()

    @staticmethod
    def _make(what: str, report: Report, queued: float) -> None:
        """Try `report` until it is made, pausing longer each time (up to LONGEST_PAUSE)."""
        pause = FIRST_PAUSE
        while True:
            try:
                if report():
                    break
            except Exception:
                logger.exception("Could not report %s; giving it up", what)
                return
            if pause == FIRST_PAUSE:
                logger.warning(
                    "Could not report %s yet: Redis is away; trying until it is back", what
                )
            time.sleep(pause)
            pause = min(2 * pause, LONGEST_PAUSE)
        late = time.monotonic() - queued
        if late > LONGEST_PAUSE:
            logger.warning("Reported %s, %.1f s late", what, late)


_news = LateNews()


def late_news() -> LateNews:
    """This process's reports still owed to the ledger."""
    return _news


@worker_shutdown.connect(weak=False)  # type: ignore[untyped-decorator]
def _report_before_leaving(sender: Any, **_: Any) -> None:
    owed = _news.wait(float(sender.app.conf.kitchen_report_patience)) if _news.owed() else []
    for what in owed:
        logger.error("Stopping with Redis away: could not report %s", what)
