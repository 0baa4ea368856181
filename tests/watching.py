"""A real `waiter watch` process whose output the tests read line by line, with timeouts."""

import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO, Any, Self

import redis

from tests.conftest import WAITER


class Watcher:
    """`waiter watch --json ...` running in the background, its lines collected as they come."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [WAITER, "watch", "--json", *args],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self.errors: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        self._threads = [
            threading.Thread(target=self._read_events, args=(self.process.stdout,), daemon=True),
            threading.Thread(target=self._read_errors, args=(self.process.stderr,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read_events(self, stream: IO[str]) -> None:
        for line in stream:
            self.events.put((time.time(), json.loads(line)))

    def _read_errors(self, stream: IO[str]) -> None:
        self.errors.extend(line.rstrip("\n") for line in stream)

    def wait_until_listening(self, redis_url: str, watchers: int = 1) -> None:
        """Return once this watcher (and all `watchers` in all) have subscribed on the server."""
        wait_until_subscribed(self.process, redis_url, watchers)

    def next_event(self, timeout: float = 15.0) -> dict[str, Any]:
        """The next event printed (fails the test after `timeout` seconds)."""
        try:
            return self.events.get(timeout=timeout)[1]
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s; stderr: {self.errors}") from None

    def collect(
        self, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """Read events until `done(events so far)` says enough."""
        deadline = time.monotonic() + timeout
        seen: list[dict[str, Any]] = []
        while not done(seen):
            seen.append(self.next_event(max(0.1, deadline - time.monotonic())))
        return seen

    def interrupt(self) -> int:
        """Press Ctrl-C; return the exit code."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=10)
        for thread in self._threads:
            thread.join(timeout=5)
        return code

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for thread in self._threads:
            thread.join(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def finished(order_ids: set[str]) -> Callable[[list[dict[str, Any]]], bool]:
    """A `collect` condition: every one of `order_ids` has had its final event."""

    def done(events: list[dict[str, Any]]) -> bool:
        ended = {e["order_id"] for e in events if e["status"] in ("ready", "failed", "cancelled")}
        return order_ids <= ended

    return done


def wait_until_subscribed(
    process: subprocess.Popen[str],
    redis_url: str,
    watchers: int = 1,
    timeout: float = 10.0,
    name: str = "waiter-watch",
) -> None:
    """Return once `watchers` connections called `name` have subscribed at `redis_url`."""
    deadline = time.monotonic() + timeout
    with redis.Redis.from_url(redis_url) as client:
        while (
            sum(
                entry.get("name") == name and int(entry.get("sub", 0)) > 0
                for entry in client.client_list()
            )
            < watchers
        ):
            assert process.poll() is None, "the watcher has exited"
            assert time.monotonic() < deadline, "the watcher never subscribed"
            time.sleep(0.05)
