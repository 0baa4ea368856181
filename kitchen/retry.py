"""How long to wait before the next attempt at a dish: exponential backoff with jitter."""

import random


def retry_delay(
    retries: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Return seconds to wait after `retries` failed retries (0 for the first failure).

    The delay doubles each time up to `cap`, then a random "equal jitter" keeps at least half
    of it, so that retries spread out without ever being immediate.
    """
    ceiling = min(cap, base * 2.0**retries)
    uniform = rng.uniform if rng is not None else random.uniform
    return ceiling / 2 + uniform(0, ceiling / 2)
