"""Commands and Lua scripts sent to Redis together, in one round trip."""

from collections.abc import Callable, Iterable
from typing import Any

import redis
from redis.client import Pipeline
from redis.commands.core import Script
from redis.exceptions import NoScriptError


def run_together(
    client: redis.Redis,
    queue: Callable[[Pipeline], None],
    scripts: Iterable[Script],
    *,
    raise_on_error: bool = True,
) -> list[Any]:
    """Queue commands with `queue(pipe)`, run them in one round trip and return the replies.

    redis-py asks the server whether a pipeline's scripts exist before running it: a second
    round trip each time. Here the scripts are simply run; a server that has lost them
    (restarted, flushed) answers NOSCRIPT, and then `scripts` are loaded and the whole batch
    runs again. Callers queue only what is safe to repeat: the ledger ignores an event it
    already has, and leases and results are rewritten to the same values. With
    `raise_on_error` off, a command's error is returned in its place instead of raised.
    """
    for last_try in (False, True):
        with client.pipeline(transaction=False) as pipe:
            queue(pipe)
            pipe.scripts.clear()
            replies: list[Any] = pipe.execute(raise_on_error=False)
        lost = any(isinstance(reply, NoScriptError) for reply in replies)
        if lost and not last_try:
            for script in scripts:
                script.sha = client.script_load(script.script)
            continue
        errors = [reply for reply in replies if isinstance(reply, redis.RedisError)]
        if errors and raise_on_error:
            raise errors[0]
        return replies
    raise AssertionError("unreachable")
