"""The board's /events stream read directly: snapshot, exact replay by Last-Event-ID, and a
fresh snapshot for an id the capped log no longer reaches; a broken Redis connection or a killed
board loses nothing and repeats nothing.

Events are written through the restaurant's own ledger and ticket book (tests/board_stack.py).
"""

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio

from board.log_hub import LogHub, id_pair, text_of
from restaurant.names import EVENT_LOG_KEY
from tests.board_stack import (
    BoardServer,
    EventReader,
    Service,
    kill_board_connections,
    log_ids,
    reading,
    wait_for,
)
from tools.redis_server import RedisServer

#: The writers' log cap: small, so that a few hundred events trim the log.
CAP = "10"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server for this module."""
    with RedisServer(None, tmp_path_factory.mktemp("board-stream-redis")) as server:
        yield server.url


@pytest.fixture(scope="module")
def board(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoardServer]:
    """A real board on that Redis."""
    log = tmp_path_factory.mktemp("board-stream") / "board.log"
    with BoardServer({"REDIS_URL": redis_url, "EVENT_LOG_CAP": CAP}, log) as running:
        yield running


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the emptied database."""
    with redis.Redis.from_url(redis_url) as connection:
        connection.flushdb()
        yield connection


@pytest.fixture
def service(client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> Service:
    """The ledger and ticket book, writing to a log capped at CAP entries."""
    monkeypatch.setenv("EVENT_LOG_CAP", CAP)
    return Service(client)


def after(ids: list[str], last: str) -> list[str]:
    """The ids that follow `last` in the log."""
    return ids[ids.index(last) + 1 :]


def test_a_new_client_gets_a_snapshot_then_the_log(
    board: BoardServer, client: redis.Redis, service: Service
) -> None:
    number, ticket_id, (pasta, salad) = service.ticket(4, ("Pasta", "pasta"), ("Salad", "cold"))

    with reading(board) as reader:
        assert reader.status == 200
        assert reader.response.getheader("Content-Type", "").startswith("text/event-stream")
        assert reader.response.getheader("Cache-Control") == "no-cache"
        assert reader.response.getheader("X-Accel-Buffering") == "no"
        snapshot = reader.take(1)[0]
        assert reader.retry == "1000"
        assert snapshot.event == "snapshot"
        assert snapshot.id == log_ids(client)[-1] == snapshot.json()["last_id"]
        (ticket,) = snapshot.json()["tickets"]
        assert (ticket["number"], ticket["table"], ticket["status"]) == (number, 4, "open")
        assert ticket["dishes"] == [pasta, salad]
        assert snapshot.json()["orders"][pasta]["dish"] == "Pasta"

        service.cook(pasta)
        service.cook(salad)  # the ticket turns ready after its last dish
        expected = after(log_ids(client), snapshot.id)
        messages = reader.take(len(expected))

    assert [m.id for m in messages] == expected
    assert [m.event for m in messages] == ["order"] * 6 + ["ticket"]
    assert messages[-1].json()["event"] == "ready"
    assert messages[-1].json()["ticket_id"] == ticket_id


def test_last_event_id_replays_exactly_what_was_missed(
    board: BoardServer, client: redis.Redis, service: Service
) -> None:
    number, _, (burger,) = service.ticket(2, ("Burger", "grill"))
    with reading(board) as reader:
        snapshot = reader.take(1)[0]
        service.step(burger, "received")
        service.step(burger, "preparing")
        seen = reader.take(2)
    # Gone: what happens now is only in the log.
    service.step(burger, "ready")
    service.book.serve(number)
    other, _, (soup,) = service.ticket(3, ("Soup", "stove"))
    missed = after(log_ids(client), seen[-1].id)
    assert len(missed) == 5  # ready, ticket ready, served, the new ticket opened, its soup

    with reading(board, seen[-1].id) as again:
        replayed = again.take(len(missed))
        service.step(soup, "received")  # the next message is this one: nothing doubled
        (following,) = again.take(1)

    assert [m.id for m in seen] == after(log_ids(client), snapshot.id)[:2]
    assert [m.id for m in replayed] == missed
    assert "snapshot" not in [m.event for m in replayed]
    assert [m.json().get("event") for m in replayed] == [
        "ready", "ready", "served", "opened", "created",
    ]  # fmt: skip
    assert following.id == log_ids(client)[-1]
    assert following.json()["order_id"] == soup
    assert other != number


def test_an_id_the_capped_log_no_longer_holds_gets_a_snapshot(
    board: BoardServer, client: redis.Redis, service: Service
) -> None:
    number, _, (pasta,) = service.ticket(5, ("Pasta", "pasta"))
    first = log_ids(client)[0]
    for _ in range(80):  # 240 events: the log, capped at ~10, drops its oldest entries
        service.ticket(6, ("Salad", "cold"))
    assert first not in log_ids(client)
    assert len(log_ids(client)) < 240

    with reading(board, first) as reader:
        snapshot = reader.take(1)[0]
        service.step(pasta, "received")
        (news,) = reader.take(1)

    assert snapshot.event == "snapshot"
    assert snapshot.id == snapshot.json()["last_id"]
    assert len(snapshot.json()["tickets"]) == 81
    assert number in [t["number"] for t in snapshot.json()["tickets"]]
    assert news.id == log_ids(client)[-1]


@pytest.mark.parametrize("bad", ["banana", "99999999999999-0", ""])
def test_a_meaningless_or_future_id_gets_a_snapshot(
    board: BoardServer, client: redis.Redis, service: Service, bad: str
) -> None:
    service.ticket(7, ("Steak", "grill"))
    with reading(board, bad) as reader:
        snapshot = reader.take(1)[0]
    assert snapshot.event == "snapshot"
    assert snapshot.id == log_ids(client)[-1]


def test_a_killed_redis_connection_ends_the_stream_and_nothing_is_lost(
    board: BoardServer, client: redis.Redis, service: Service
) -> None:
    _, _, (pasta, steak) = service.ticket(8, ("Pasta", "pasta"), ("Steak", "grill"))
    reader = EventReader(board)
    try:
        last = reader.take(1)[0].id
        service.step(pasta, "received")
        last = reader.take(1)[0].id
        assert kill_board_connections(client) >= 1
        assert reader.next() is None  # the board ends the response: the browser comes back
    finally:
        reader.close()
    service.step(pasta, "preparing")
    service.step(steak, "received")
    missed = after(log_ids(client), last)

    with reading(board, last) as again:
        replayed = again.take(len(missed))
        service.step(steak, "preparing")
        (following,) = again.take(1)

    assert [m.id for m in replayed] == missed
    assert following.id == log_ids(client)[-1]


def test_a_board_killed_and_restarted_replays_what_happened_meanwhile(
    redis_url: str, client: redis.Redis, service: Service, tmp_path: Path
) -> None:
    _, _, (salad,) = service.ticket(9, ("Salad", "cold"))
    with BoardServer({"REDIS_URL": redis_url}, tmp_path / "board.log") as board:
        reader = EventReader(board)
        try:
            last = reader.take(1)[0].id
            board.signal(signal.SIGKILL)
            assert reader.next() is None
        finally:
            reader.close()
        service.cook(salad)
        missed = after(log_ids(client), last)
        board.restart()
        with reading(board, last) as again:
            replayed = again.take(len(missed))
    assert [m.id for m in replayed] == missed
    assert replayed[-1].json()["event"] == "ready"


def test_a_quiet_stream_sends_a_keep_alive_comment(board: BoardServer, service: Service) -> None:
    service.ticket(10, ("Pasta", "pasta"))
    with reading(board) as reader:
        reader.take(1)
        started = time.monotonic()
        line = b""
        while not line.startswith(b":"):
            line = reader.response.readline()
        waited = time.monotonic() - started
    assert line == b": keep-alive\n"
    assert 14 < waited < 17


def test_without_redis_the_stream_says_so_in_one_line(tmp_path: Path) -> None:
    from tools.redis_server import free_port

    env = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "REDIS_CONNECT_TIMEOUT": "0.5"}
    with BoardServer(env, tmp_path / "board.log") as board:
        status, _, body = board.request("/events")
        assert status == 503
        assert b"out of reach" in body
        assert wait_for(lambda: "cannot start" in board.log(), 5, "the board's warning")


def test_the_hub_reads_whatever_is_logged_once_subscribing_returns(
    redis_url: str, client: redis.Redis
) -> None:
    # A stream catches up from the log after subscribing: an entry logged in between must come
    # from the hub, so the hub must know where it reads from before subscribe() returns.
    async def run() -> list[bool]:
        live = redis.asyncio.Redis.from_url(redis_url)
        heard = []
        try:
            for _ in range(20):
                hub = LogHub(live)
                queue = await hub.subscribe()
                entry_id = text_of(client.xadd(EVENT_LOG_KEY, {"k": "order", "e": "{}"}))
                ids: set[tuple[int, int]] = set()
                while id_pair(entry_id) not in ids:
                    batch = await asyncio.wait_for(queue.get(), 5)
                    assert isinstance(batch, list)
                    ids |= {entry for entry, _ in batch}
                heard.append(True)
                hub.unsubscribe(queue)
        finally:
            await live.aclose()
        return heard

    assert asyncio.run(run()) == [True] * 20
