"""The one Kitchen of this worker process, built from the environment on first use."""

from functools import cache

from celery.signals import worker_process_init

from kitchen.recipes import Kitchen


@cache
def get_kitchen() -> Kitchen:
    """Return this process's kitchen."""
    return Kitchen.from_settings()


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _reseed_after_fork(**_: object) -> None:
    # Pool children are forked from the main process: give each its own random sequence.
    get_kitchen().rng.seed()
