"""The board for tests: a real `python -m board` process, plain HTTP requests, an SSE reader."""

import base64
import http.client
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar

import redis

from tools.process import LoggedProcess
from tools.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent
USER, PASSWORD = "chef", "b0ard-s3cret"
T = TypeVar("T")


def basic(user: str, password: str) -> str:
    """An Authorization header's value for HTTP basic authentication."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class BoardServer(LoggedProcess):
    """`python -m board --host HOST --port PORT`, logging to a file; ready when it says so."""

    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        auth: tuple[str, str] | None = None,
    ) -> None:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("BOARD_")}
        self.env = {**inherited, **env}
        if auth is not None:
            self.env["BOARD_BASIC_AUTH"] = f"{auth[0]}:{auth[1]}"
        self.auth = auth
        self.host = host
        self.port = port or free_port()
        self.log_path = log_path
        self.cwd = ROOT
        # The console script, as `make up` runs it (python -m board before it is installed).
        script = Path(sys.executable).with_name("board")
        program = [str(script)] if script.exists() else [sys.executable, "-m", "board"]
        self.command = [*program, "--host", host, "--port", str(self.port)]

    def start(self, timeout: float = 30.0) -> Self:
        """Start the board and wait for its `Board listening on` line."""
        before = self.log().count("Board listening on") if self.log_path.exists() else 0
        self.launch(
            lambda: self.log().count("Board listening on") > before, timeout, "board", append=True
        )
        return self

    def restart(self) -> None:
        """Start the board again on the same port (after it was killed)."""
        if self.process is not None:
            self.process.wait(timeout=10)
        self.start()

    @property
    def url(self) -> str:
        """The board's base URL, as a browser reaches it."""
        return f"http://127.0.0.1:{self.port}"

    def headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Headers with the board's password (if it has one) and `extra`."""
        found = dict(extra or {})
        if self.auth is not None and "Authorization" not in found:
            found["Authorization"] = basic(*self.auth)
        return found

    def request(
        self,
        path: str,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        *,
        auth: bool = True,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """One request; return the status, the headers and the body."""
        sent = self.headers(headers) if auth else dict(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.request(method, path, body=b"" if method == "POST" else None, headers=sent)
            answer = conn.getresponse()
            return answer.status, answer.headers, answer.read()
        finally:
            conn.close()

    def post(self, path: str, headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
        """A same-origin POST, as the board's own pages send it; return status and JSON."""
        sent = {"Origin": self.url, **(headers or {})}
        status, _, body = self.request(path, "POST", sent)
        return status, json.loads(body or b"null")


@dataclass
class Message:
    """One Server-Sent Event."""

    event: str
    id: str
    data: str

    def json(self) -> Any:
        """The data, decoded."""
        return json.loads(self.data)


class EventReader:
    """A client of /events: reads messages one by one, as EventSource would parse them."""

    def __init__(self, board: BoardServer, last_event_id: str | None = None) -> None:
        headers = board.headers({"Accept": "text/event-stream"})
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self.conn = http.client.HTTPConnection("127.0.0.1", board.port, timeout=20)
        self.conn.request("GET", "/events", headers=headers)
        self.response = self.conn.getresponse()
        self.retry: str | None = None

    @property
    def status(self) -> int:
        """The HTTP status of the stream."""
        return int(self.response.status)

    def next(self) -> Message | None:
        """The next message (comments and retry lines skipped), or None when the stream ends."""
        event, ident = "message", ""
        data: list[str] = []
        while True:
            raw = self.response.readline()
            if not raw:
                return None
            line = raw.decode().rstrip("\n")
            if not line:
                if data:
                    return Message(event, ident, "\n".join(data))
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "id":
                ident = value
            elif name == "data":
                data.append(value)
            elif name == "retry":
                self.retry = value

    def take(self, count: int) -> list[Message]:
        """The next `count` messages; fails if the stream ends first."""
        found: list[Message] = []
        for _ in range(count):
            message = self.next()
            assert message is not None, f"the stream ended after {found}"
            found.append(message)
        return found

    def close(self) -> None:
        """Leave the stream."""
        self.conn.close()


@contextmanager
def reading(board: BoardServer, last_event_id: str | None = None) -> Iterator[EventReader]:
    """An EventReader closed at the end."""
    reader = EventReader(board, last_event_id)
    try:
        yield reader
    finally:
        reader.close()


def log_ids(client: redis.Redis) -> list[str]:
    """Every entry id in the event log, oldest first."""
    key = "restaurant:log"
    return [raw.decode() for raw, _ in client.xrange(key)]  # type: ignore[union-attr]


def kill_board_connections(client: redis.Redis, name: str = "board-live") -> int:
    """CLIENT KILL every connection of the board's named client; return how many."""
    killed = 0
    for entry in client.client_list():
        if entry.get("name") == name:
            killed += int(client.client_kill_filter(_id=entry["id"]))
    return killed


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll `check` until it returns something truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.05)
    return result


class Service:
    """Tickets and dishes written straight through the restaurant's own ledger and ticket book.

    The same Lua steps as the waiter and the kitchen run, without a worker: for the stream
    tests, which need events at chosen moments.
    """

    def __init__(self, client: redis.Redis) -> None:
        from restaurant.ledger import Ledger
        from restaurant.tickets import TicketBook

        self.client = client
        self.ledger = Ledger.from_settings(client)
        self.book = TicketBook.from_settings(client)

    def ticket(self, table: int, *dishes: tuple[str, str]) -> tuple[int, str, list[str]]:
        """Open a ticket with these (dish, station) pairs; return number, ticket id, order ids."""
        import uuid

        from restaurant.events import Kind, make_event
        from restaurant.ticket_records import new_ticket_id

        ticket_id = new_ticket_id()
        order_ids = [str(uuid.uuid4()) for _ in dishes]
        joining = [(order_id, pair[1]) for order_id, pair in zip(order_ids, dishes, strict=True)]
        number = self.book.open(table, ticket_id=ticket_id, dishes=joining)
        for order_id, (dish, station) in zip(order_ids, dishes, strict=True):
            event = make_event(
                Kind.CREATED, order_id, table=table, dish=dish, station=station, ticket=ticket_id
            )
            assert self.ledger.record(event).applied
        return number, ticket_id, order_ids

    def step(self, order_id: str, kind: str, **fields: Any) -> None:
        """Record one more event of an order (preparing, ready, cancelled ...)."""
        from restaurant.events import Kind, make_event

        extra: dict[str, Any] = dict(fields)
        if kind in ("received", "preparing", "ready"):
            extra.setdefault("attempt", 1)
            extra.setdefault("worker", "chef-test@board")
        if kind == "ready":
            extra.setdefault("cook_seconds", 1.5)
        assert self.ledger.record(make_event(Kind(kind), order_id, **extra)).applied

    def cook(self, order_id: str) -> None:
        """Take, prepare and finish one dish."""
        for kind in ("received", "preparing", "ready"):
            self.step(order_id, kind)
