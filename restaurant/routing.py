"""Which queue an order travels in, and the order in which a Redis cook reads its queues.

Free of kombu, so that the waiter starts without it; kombu's queue cycle that reads rush
queues first is in restaurant/queue_order.py.
"""

from collections.abc import Iterable

from restaurant.names import RUSH_SUFFIX


def station_queue(station: str, *, rush: bool = False) -> str:
    """Name the queue of a station's orders, or of its rush orders."""
    return station + RUSH_SUFFIX if rush else station


def is_rush_queue(name: str) -> bool:
    """Say whether a queue holds rush orders."""
    return name.endswith(RUSH_SUFFIX)


def rush_first(names: Iterable[str]) -> list[str]:
    """Each station's rush queue, then the queues themselves, without repeats, order kept."""
    names = list(names)
    rush = [station_queue(name, rush=True) for name in names if not is_rush_queue(name)]
    return list(dict.fromkeys([*[name for name in names if is_rush_queue(name)], *rush, *names]))
