"""9. The board: a `ready` event to each of many SSE clients, and the snapshot of a busy pass.

A real `board` server runs on the bench's Redis. Fifty clients hold `/events` open (plain
sockets, one asyncio loop); the bench records `ready` events in the ledger one at a time and
times each from just before the ledger call to its arrival at each client. Then 1,000 tickets
of three dishes each are opened, and a new client times its first `/events` message: the
snapshot of them all, as a screen gets it on load.
"""

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import redis

from bench.workloads import Figures, _wait
from restaurant.events import Kind, make_event
from restaurant.ledger import Ledger
from restaurant.ticket_records import new_ticket_id
from restaurant.tickets import TicketBook


def board_speed(url: str, workdir: Path, clients: int = 50, events: int = 200) -> Figures:
    """Start a board on `url`; time its fan-out to `clients` and a 1,000-ticket snapshot.

    It runs on a database of its own (2), so that the tickets of the workloads before it are
    not in its snapshot."""
    url = url.rsplit("/", 1)[0] + "/2"
    port = _free_port()
    env = {**os.environ, "REDIS_URL": url, "BOARD_PORT": str(port), "EVENT_LOG_CAP": "100000"}
    log = (workdir / "board.log").open("w")
    board = subprocess.Popen(
        [sys.executable, "-m", "board", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    try:
        _wait(lambda: _answers(port), 30, "the board to listen", every=0.05)
        with redis.Redis.from_url(url) as client:
            samples = asyncio.run(_fan_out(client, port, clients, events))
            _open_tickets(client, 1_000)
            snapshots = [asyncio.run(_snapshot_ms(port)) for _ in range(5)]
    finally:
        board.terminate()
        board.wait(10)
        log.close()
        with redis.Redis.from_url(url) as client:
            client.flushdb()
    ordered = sorted(samples)
    return {
        "clients": clients,
        "events": events,
        "samples": len(samples),
        "p50_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(statistics.quantiles(ordered, n=100, method="inclusive")[98], 3),
        "max_ms": round(ordered[-1], 3),
        "snapshot_tickets": 1_000,
        "snapshot_ms": round(statistics.median(snapshots), 2),
        "snapshot_runs_ms": [round(value, 2) for value in snapshots],
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open `/events` and read past the response's headers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**26)
    request = f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n"
    writer.write(request.encode())
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"the board answered /events with {status!r}")
    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
        pass
    return reader, writer


async def _messages(reader: asyncio.StreamReader) -> AsyncIterator[tuple[str, str]]:
    """Yield (event, data) for each SSE message, however the response is chunked."""
    event, data = "message", []
    while line := await reader.readline():
        text = line.decode().rstrip("\r\n")
        if text.startswith("event:"):
            event = text[6:].strip()
        elif text.startswith("data:"):
            data.append(text[5:].lstrip())
        elif text == "" and data:
            yield event, "\n".join(data)
            event, data = "message", []


async def _fan_out(client: redis.Redis, port: int, clients: int, events: int) -> list[float]:
    """Latencies (ms) of `events` ready events to each of `clients` open streams."""
    ledger = Ledger.from_settings(client)
    arrivals: dict[str, list[float]] = {}
    connected = 0

    async def listen() -> None:
        nonlocal connected
        reader, writer = await _connect(port)
        connected += 1
        try:
            async for event, data in _messages(reader):
                if event == "order" and '"ready"' in data:
                    arrival = time.perf_counter()
                    arrivals.setdefault(json.loads(data)["order_id"], []).append(arrival)
        finally:
            writer.close()  # so that the board stops streaming to it

    tasks = [asyncio.create_task(listen()) for _ in range(clients)]
    while connected < clients:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # every stream past its snapshot
    loop = asyncio.get_running_loop()
    samples = []
    for _ in range(events):
        order_id = str(uuid.uuid4())
        fields = {"table": 1, "dish": "Pasta", "station": "pasta"}
        await loop.run_in_executor(
            None, ledger.record, make_event(Kind.CREATED, order_id, **fields)
        )
        sent = time.perf_counter()
        await loop.run_in_executor(None, ledger.record, make_event(Kind.READY, order_id, **fields))
        deadline = time.monotonic() + 5
        while len(arrivals.get(order_id, [])) < clients and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        samples += [(at - sent) * 1000 for at in arrivals.get(order_id, [])]
        await asyncio.sleep(0.005)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return samples


def _open_tickets(client: redis.Redis, count: int) -> None:
    """Open `count` tickets of three dishes each, as waiters would, in a few round trips."""
    ledger, book = Ledger.from_settings(client), TicketBook.from_settings(client)
    pipe = client.pipeline(transaction=False)
    for n in range(count):
        ticket_id = new_ticket_id()
        dishes = [
            (str(uuid.uuid4()), dish, station)
            for dish, station in (("Burger", "grill"), ("Salad", "cold"), ("Pasta", "pasta"))
        ]
        book.queue_open(pipe, ticket_id, n % 50 + 1, time.time(), [(o, s) for o, _, s in dishes])
        ledger.queue(
            (
                make_event(Kind.CREATED, order_id, table=n % 50 + 1, dish=dish, station=station,
                           ticket=ticket_id, note="no onions")
                for order_id, dish, station in dishes
            ),
            pipe,
        )  # fmt: skip
        if n % 100 == 99:
            pipe.execute()
    pipe.execute()


async def _snapshot_ms(port: int) -> float:
    """Milliseconds from opening `/events` to holding its whole first message (the snapshot)."""
    started = time.perf_counter()
    reader, writer = await _connect(port)
    async for event, data in _messages(reader):
        if event != "snapshot":
            raise RuntimeError(f"the board's first message was {event!r}, not a snapshot")
        took = (time.perf_counter() - started) * 1000
        tickets = len(json.loads(data)["tickets"])
        if tickets < 1_000:
            raise RuntimeError(f"the snapshot held {tickets} tickets, not 1,000")
        break
    writer.close()
    return took
