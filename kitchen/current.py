"""The one Kitchen of this worker process, built from the environment on first use."""

from functools import cache

from celery.signals import worker_process_init

from kitchen.recipes import Kitchen
from restaurant.orders import Rules
from restaurant.settings import load_settings


@cache
def get_kitchen() -> Kitchen:
    """Return this process's kitchen."""
    return Kitchen.from_settings()


@cache
def get_rules() -> Rules:
    """Return what this kitchen checks every order against: its menu and the tables."""
    return Rules(get_kitchen().menu, load_settings().tables)


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _reseed_after_fork(**_: object) -> None:
    # Pool children are forked from the main process: give each its own random sequence.
    get_kitchen().rng.seed()
