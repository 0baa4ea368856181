"""Simulated kitchen trouble: forced per dish for tests and demos, or at random."""

import random
from dataclasses import dataclass
from enum import StrEnum

from restaurant.exceptions import ConfigError
from restaurant.menu import Menu


class Trouble(StrEnum):
    """What can go wrong with one attempt at a dish."""

    #: The dish's station is busy: passing trouble, retried.
    BUSY = "busy"
    #: An ingredient ran short: passing trouble, retried.
    SHORT = "short"
    #: The dish cooks past its soft time limit: the cook stops and the order fails.
    SLOW = "slow"
    #: The pot is stuck and deaf to the soft limit: only the hard limit stops it.
    STUCK = "stuck"
    #: The dish kills its cook's process outright (a poison message): never retried as such.
    CRASH = "crash"


@dataclass(frozen=True)
class ForcedTrouble:
    """Trouble forced on a dish for its first `attempts` attempts (None: every attempt)."""

    trouble: Trouble
    attempts: int | None = None

    def applies_to(self, attempt: int) -> bool:
        """Say whether this trouble strikes the given attempt (1 is the first)."""
        return self.attempts is None or attempt <= self.attempts


def parse_trouble(spec: str, menu: Menu) -> dict[str, ForcedTrouble]:
    """Parse KITCHEN_TROUBLE, e.g. "Soup=busy:2,Steak=stuck", into trouble per dish name."""
    forced: dict[str, ForcedTrouble] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, what = item.partition("=")
        kind, _, count = what.partition(":")
        dish = menu.find(name.strip())
        if dish is None:
            raise ConfigError(f"KITCHEN_TROUBLE names {name.strip()!r}, which is not on the menu")
        try:
            trouble = Trouble(kind.strip())
        except ValueError:
            choices = ", ".join(t.value for t in Trouble)
            raise ConfigError(
                f"KITCHEN_TROUBLE: {kind.strip()!r} for {dish.name} is not one of {choices}"
            ) from None
        attempts = None
        if count:
            if not count.strip().isdigit():
                raise ConfigError(f"KITCHEN_TROUBLE: attempts for {dish.name} must be a number")
            attempts = int(count)
        forced[dish.name] = ForcedTrouble(trouble, attempts)
    return forced


def random_trouble(rate: float, rng: random.Random) -> Trouble | None:
    """With probability `rate`, pick a passing trouble (busy station or short ingredient)."""
    if rate > 0 and rng.random() < rate:
        return rng.choice((Trouble.BUSY, Trouble.SHORT))
    return None
