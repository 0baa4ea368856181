"""Commands and Lua scripts sent to Redis together, in one round trip."""

from collections.abc import Callable, Iterable
from typing import Any

import redis
from redis.client import Pipeline
from redis.commands.core import Script
from redis.exceptions import NoScriptError


def execute(pipe: Pipeline, scripts: Iterable[Script], *, raise_on_error: bool = True) -> list[Any]:
    """Execute a pipeline in one round trip and return its replies, scripts included.

    redis-py asks the server whether a pipeline's scripts exist before running it: a second
    round trip each time. Here they are simply run. A server that has lost them (restarted,
    flushed) refuses each with NOSCRIPT and runs the other commands: `scripts` are then
    loaded and the refused commands alone run again, in their order (in a transaction if
    `pipe` is one), so that nothing runs twice. With `raise_on_error` off, a command's error
    is returned in its place instead of raised.
    """
    stack = list(pipe.command_stack)
    pipe.scripts.clear()
    replies: list[Any] = pipe.execute(raise_on_error=False)
    refused = [index for index, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
    if refused:
        client = redis.Redis(connection_pool=pipe.connection_pool)
        for script in scripts:
            script.sha = client.script_load(script.script)
        with client.pipeline(transaction=pipe.transaction) as again:
            for index in refused:
                args, options = stack[index]
                again.execute_command(*args, **options)  # type: ignore[no-untyped-call]
            for index, reply in zip(refused, again.execute(raise_on_error=False), strict=True):
                replies[index] = reply
    errors = [reply for reply in replies if isinstance(reply, redis.RedisError)]
    if errors and raise_on_error:
        raise errors[0]
    return replies


def run_together(
    client: redis.Redis,
    queue: Callable[[Pipeline], None],
    scripts: Iterable[Script],
    *,
    raise_on_error: bool = True,
) -> list[Any]:
    """Queue commands with `queue(pipe)`, run them in one round trip and return the replies.

    The pipeline runs its scripts without asking first whether Redis has them (`execute`).
    """
    with client.pipeline(transaction=False) as pipe:
        queue(pipe)
        return execute(pipe, scripts, raise_on_error=raise_on_error)
