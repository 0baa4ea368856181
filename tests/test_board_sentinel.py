"""The board on Redis Sentinel: its stream follows the master the sentinels name, through a
failover, and a page coming back with its Last-Event-ID gets what the new master logged."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from restaurant.connections import bounded_redis
from tests.board_stack import BoardServer, EventReader, Service, log_ids, reading, wait_for
from tools.sentinel import SentinelSet

pytestmark = pytest.mark.e2e
PASSWORD = "sentinel-board"


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelSet]:
    """A master, a replica and three sentinels; the data servers want a password."""
    with SentinelSet(tmp_path / "sentinels", password=PASSWORD) as running:
        yield running


def test_the_stream_follows_the_master_through_a_failover(
    sentinels: SentinelSet, tmp_path: Path
) -> None:
    url = sentinels.url
    env = {"REDIS_URL": url, "REDIS_CONNECT_TIMEOUT": "1"}
    client: redis.Redis = bounded_redis(url, 5.0, "board-test")
    service = Service(client)
    _, _, (pasta,) = service.ticket(3, ("Pasta", "pasta"))

    with BoardServer(env, tmp_path / "board.log") as board:
        reader = EventReader(board)
        try:
            snapshot = reader.take(1)[0]
            assert snapshot.event == "snapshot"
            assert [t["table"] for t in snapshot.json()["tickets"]] == [3]
            service.step(pasta, "received")
            last = reader.take(1)[0].id
            client.wait(1, 5000)  # the replica has it all before the master goes
            sentinels.wait_for_failover(sentinels.kill_master())
            assert reader.next() is None  # the stream ends with the old master
        finally:
            reader.close()

        def written() -> bool:
            try:
                service.step(pasta, "preparing")
            except redis.RedisError:
                return False
            return True

        wait_for(written, 30, "the new master to take writes")
        missed = log_ids(client)[log_ids(client).index(last) + 1 :]

        def resumed() -> list[str] | None:
            try:
                with reading(board, last) as again:
                    if again.status != 200:
                        return None
                    return [m.id for m in again.take(len(missed))]
            except OSError:
                return None

        assert wait_for(resumed, 30, "the board to read the new master") == missed
