"""Held orders claimed by a sender that dies before sending are fired later, not lost."""

from collections.abc import Iterator

import pytest
import redis

from restaurant.schedule import CLAIM_LEASE, HeldOrder, Schedule
from tools.redis_server import RedisServer


@pytest.fixture
def schedule() -> Iterator[Schedule]:
    """A schedule on a Redis of its own."""
    with RedisServer() as server, redis.Redis.from_url(server.url) as client:
        yield Schedule(client)


def order(order_id: str, fire_at: float | None = 100.0, course: int | None = None) -> HeldOrder:
    """A held Salad for table 1."""
    kwargs = {"table": 1, "dish": "Salad", "note": None, "ordered_at": 1.0}
    return HeldOrder(order_id, "cold", kwargs, 1, course=course, fire_at=fire_at)


def test_a_claimed_order_is_due_again_unless_done(schedule: Schedule) -> None:
    schedule.hold([order("a"), order("b")])

    first = schedule.claim_due(now=100.0)
    assert [held.order_id for held in first] == ["a", "b"]
    assert schedule.claim_due(now=100.0 + CLAIM_LEASE - 1) == []  # nobody else takes them

    schedule.done(["a"])  # "a" was sent; the sender died before sending "b"
    again = schedule.claim_due(now=100.0 + CLAIM_LEASE + 1)
    assert [held.order_id for held in again] == ["b"]
    assert again[0] == first[1]
    schedule.done(["b"])
    assert schedule.claim_due(now=10_000.0) == [] and schedule.next_fire_at() is None


def test_a_fired_course_not_sent_is_fired_by_the_scheduler(schedule: Schedule) -> None:
    schedule.hold([order("c", fire_at=None, course=2)])

    claimed = schedule.claim_course(table=1, course=2, now=50.0)
    assert [held.order_id for held in claimed] == ["c"]
    assert schedule.claim_course(table=1, course=2, now=50.0) == []

    later = schedule.claim_due(now=50.0 + CLAIM_LEASE + 1)
    assert [held.order_id for held in later] == ["c"]


def test_a_course_held_again_after_a_failed_fire_waits_for_its_fire(schedule: Schedule) -> None:
    schedule.hold([order("d", fire_at=None, course=3)])
    claimed = schedule.claim_course(table=1, course=3, now=50.0)

    schedule.hold(claimed)  # sending failed: held again until the next `waiter fire`

    assert schedule.claim_due(now=10_000.0) == []
    assert [held.order_id for held in schedule.claim_course(1, 3, now=60.0)] == ["d"]
