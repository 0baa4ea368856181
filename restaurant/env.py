"""Typed reads of environment variables, with defaults and a clear error for bad values."""

import math
import os
from collections.abc import Callable
from typing import TypeVar

from restaurant.exceptions import ConfigError

N = TypeVar("N", int, float)


def env_str(name: str, default: str) -> str:
    """Return the variable's value, or the default when it is unset or empty."""
    return os.environ.get(name) or default


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    """Return the variable as a whole number within [minimum, maximum]."""
    return _env_number(name, default, int, "a whole number", minimum=minimum, maximum=maximum)


def env_float(
    name: str, default: float, *, minimum: float = 0.0, maximum: float | None = None
) -> float:
    """Return the variable as a finite number within [minimum, maximum]."""
    return _env_number(name, default, float, "a number", minimum=minimum, maximum=maximum)


def _env_number(
    name: str,
    default: N,
    convert: Callable[[str], N],
    kind: str,
    *,
    minimum: N,
    maximum: N | None,
) -> N:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = convert(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {kind}, not {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, not {raw!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise ConfigError(f"{name} must be at least {minimum}{upper}, not {value}")
    return value
