"""What cooking a dish means, without Celery: timing, simulated trouble and time limits."""

import math
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import EllipsisType

from kitchen.trouble import ForcedTrouble, Trouble, parse_trouble, random_trouble
from restaurant.exceptions import KitchenTrouble
from restaurant.menu import Dish, Menu, load_menu
from restaurant.settings import Settings, load_settings

#: Longest stretch of cooking without a look at the order (progress, cancellation), in seconds.
CHECK_EVERY = 0.25
#: A dish reports its progress at least this many times while it cooks.
PROGRESS_STEPS = 4
#: Steps of cooking shorter than this are not slept: the sleep alone would take longer (the
#: kernel's timer slack is about 50 us), and a dish of a few microseconds would cost a
#: busy kitchen a quarter of a millisecond.
SHORTEST_SLEEP = 0.001


@dataclass(frozen=True)
class TimeLimits:
    """Seconds after which a dish is stopped cleanly (soft) and killed (hard)."""

    soft: float
    hard: float


@dataclass
class Kitchen:
    """The kitchen's rules: the menu at this kitchen's speed, and the trouble it meets."""

    menu: Menu
    speed: float = 1.0
    failure_rate: float = 0.0
    forced: dict[str, ForcedTrouble] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "Kitchen":
        """Build the kitchen described by the environment."""
        settings = settings or load_settings()
        menu = load_menu()
        return cls(
            menu=menu,
            speed=settings.kitchen_speed,
            failure_rate=settings.failure_rate,
            forced=parse_trouble(settings.trouble, menu),
        )

    def limits(self, dish: Dish) -> TimeLimits:
        """Return the dish's time limits at this kitchen's speed."""
        return TimeLimits(soft=dish.soft_limit / self.speed, hard=dish.hard_limit / self.speed)

    def longest_cook(self, dish: Dish) -> float:
        """Return the most seconds the dish cooks at this kitchen's speed, trouble aside."""
        return dish.cook_seconds[1] / self.speed

    def longest_limits(self) -> TimeLimits:
        """Return the limits of the dish that may take longest, at this kitchen's speed."""
        return self.limits(max(self.menu.dishes, key=lambda dish: dish.hard_limit))

    def cook(
        self,
        dish: Dish,
        attempt: int,
        on_progress: Callable[[int], None] | None = None,
        trouble: Trouble | EllipsisType | None = ...,
    ) -> float:
        """Cook one portion of `dish`; return the seconds it took.

        `on_progress(percent)` is called every CHECK_EVERY seconds or so while the dish cooks;
        whatever it raises (a cancellation) stops the cooking. Each step ends on a schedule set
        when cooking starts, so the time spent reporting does not make the dish take longer. A
        dish whose steps are too short to sleep (SHORTEST_SLEEP) is done before anything could
        be told: it reports nothing.
        Raises KitchenTrouble for passing trouble. A dish that is too slow simply keeps cooking
        until the soft time limit interrupts it; a stuck one ignores even that. The `trouble`
        this attempt meets is what `trouble_for` decides, here unless decided before.
        """
        if trouble is ...:
            trouble = self.trouble_for(dish, attempt)
        if trouble is Trouble.BUSY:
            raise KitchenTrouble(f"the {dish.station} station is busy")
        if trouble is Trouble.SHORT:
            raise KitchenTrouble(f"ran short of an ingredient for {dish.name}")
        if trouble is Trouble.STUCK:
            self._stuck_pot()
        seconds = self.rng.uniform(*dish.cook_seconds) / self.speed
        if trouble is Trouble.SLOW:
            seconds = 2 * self.limits(dish).hard
        started = self.clock()
        steps = max(PROGRESS_STEPS, math.ceil(seconds / CHECK_EVERY))
        pause = seconds / steps
        slept = pause >= SHORTEST_SLEEP
        for step in range(1, steps + 1):
            if slept:
                self.sleep(max(0.0, started + step * pause - self.clock()))
            if trouble is Trouble.CRASH:
                # After the first step of cooking, what a segfault or the OOM killer does to a
                # pool process: no cleanup, no reply.
                os.kill(os.getpid(), signal.SIGKILL)
            if on_progress is not None and step < steps and slept:
                on_progress(100 * step // steps)
        return self.clock() - started

    def trouble_for(self, dish: Dish, attempt: int) -> Trouble | None:
        """Decide the trouble one attempt at `dish` meets (None for none), forced or at random."""
        forced = self.forced.get(dish.name)
        if forced is not None and forced.applies_to(attempt):
            return forced.trouble
        return random_trouble(self.failure_rate, self.rng)

    def _stuck_pot(self) -> None:
        # Swallowing the soft limit's exception is the point: this simulates work that does
        # not stop when asked, which only the worker's hard limit (killing the process) ends.
        while True:
            try:
                self.sleep(3600)
            except Exception:  # noqa: S112
                continue
