"""A prefork soft time limit's signal that reaches a pool process after its dish ended is ignored.

Under prefork the worker's main process times each dish with a timer of its event loop and,
when the soft limit passes, sends SIGUSR1 to the dish's pool process (billiard's
`TimeoutHandler.on_soft_timeout`), whose handler (`soft_timeout_sighandler`) raises
SoftTimeLimitExceeded wherever the process is. The timer is cancelled only once the main
process reads the dish's result from the pool process's pipe, and its loop fires due timers
before it reads (kombu's `Hub.create_loop`). So a main process held up past the rest of the soft
limit (a busy machine, a slow call in its loop) signals a process whose dish has ended: a short
one, such as a dish sent back from a full station. That process is waiting for its next job in
billiard's `workloop`, where nothing catches the exception, and it died of it.

Here the exception is raised only while a dish is in hand; in between, the signal is logged and
ignored. A late signal cannot land in the next dish: the main process sends it only while the
last dish's result is unread, and gives the process its next dish only once it has read it
(Celery's fair scheduling).
"""

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from billiard.pool import soft_timeout_sighandler
from celery.exceptions import SoftTimeLimitExceeded

logger = logging.getLogger(__name__)

_in_hand = False


def _on_soft_limit(signum: int, frame: FrameType | None) -> None:
    if _in_hand:
        raise SoftTimeLimitExceeded()
    logger.warning("Ignored a soft time limit signal that came after its dish had ended")


@contextmanager
def dish_in_hand() -> Iterator[None]:
    """Let the prefork pool's soft-limit signal stop this block; elsewhere it is ignored.

    Outside a prefork pool process (gevent, where SIGUSR1 is Celery's) this changes nothing.
    """
    global _in_hand  # noqa: PLW0603  (one dish at a time in a pool process)
    if signal.getsignal(signal.SIGUSR1) is soft_timeout_sighandler:
        # billiard installs its handler after Celery's process initializer: replace it here.
        signal.signal(signal.SIGUSR1, _on_soft_limit)
    _in_hand = True
    try:
        yield
    finally:
        _in_hand = False
