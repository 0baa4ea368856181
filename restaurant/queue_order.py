"""The order in which a Redis cook reads its queues: rush ones first (kombu's queue cycle)."""

from kombu.utils.scheduling import round_robin_cycle

from restaurant.routing import is_rush_queue


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
