"""Which queue an order travels in, and the order in which a Redis cook reads its queues."""

from collections.abc import Iterable

from kombu.utils.scheduling import round_robin_cycle

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


class RushFirstCycle(round_robin_cycle):
    """kombu's Redis queue order: rush queues before all others, round robin within each kind.

    The Redis transport asks for the queues in this order with one BRPOP, which returns from
    the first non-empty one: a rush order is always taken before an ordinary one, and stations
    of one kind still take turns, so a busy grill does not starve the pastry station.
    (Set as `queue_order_strategy` in celeryconfig.)
    """

    def consume(self, n: int) -> list[str]:
        """Return the first `n` queues to read, rush ones first."""
        items: list[str] = self.items[:n]
        return sorted(items, key=lambda name: not is_rush_queue(name))
