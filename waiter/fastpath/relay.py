"""Running Redis pipelines on a background thread while the caller builds the next one."""

import sys
from collections.abc import Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final

from redis.client import Pipeline
from redis.commands.core import Script

from restaurant.pipelines import execute

#: Seconds a thread may hold the GIL while another waits for it, during `overlapped`.
SWITCH_INTERVAL: Final = 0.0005


def overlapped(
    pipelines: Iterable[Pipeline], scripts: Sequence[Script] = ()
) -> Generator[list[Any], None, None]:
    """Execute each pipeline in turn and yield its replies, in order.

    While one pipeline is on its way to Redis and back, the next is taken from `pipelines`
    (so built, if it is a generator): the client's work overlaps Redis's. One at most is in
    flight, and none is sent before the one ahead of it has answered, so that after an error
    (raised here) or when the caller stops early, nothing more reaches Redis. The pipelines'
    `scripts` run without redis-py's question whether Redis has them (restaurant.pipelines).
    """
    interval = sys.getswitchinterval()
    # The relay thread needs the GIL for moments (packing, parsing replies) while the caller
    # holds it building: hand it over sooner than every 5 ms, or the relay waits, not Redis.
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="relay") as relay:
            pending: Future[list[Any]] | None = None
            for pipe in pipelines:
                if pending is not None:
                    yield pending.result()
                pending = relay.submit(_execute, pipe, scripts)
            if pending is not None:
                yield pending.result()
    finally:
        sys.setswitchinterval(interval)


def relayed(
    pipelines: Iterable[Pipeline], count: int, scripts: Sequence[Script] = ()
) -> Iterator[list[Any]]:
    """Execute `count` pipelines in turn, yielding their replies: overlapped if more than one.

    A single pipeline has nothing to overlap with; a thread to send it would only cost time.
    """
    if count > 1:
        yield from overlapped(pipelines, scripts)
        return
    for pipe in pipelines:
        yield _execute(pipe, scripts)


def _execute(pipe: Pipeline, scripts: Sequence[Script]) -> list[Any]:
    with pipe:
        return execute(pipe, scripts)
