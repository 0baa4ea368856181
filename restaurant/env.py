"""Typed reads of environment variables, with defaults and a clear error for bad values."""

import math
import os

from restaurant.exceptions import ConfigError


def env_str(name: str, default: str) -> str:
    """Return the variable's value, or the default when it is unset or empty."""
    return os.environ.get(name) or default


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    """Return the variable as an integer within [minimum, maximum]."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    _check_range(name, value, minimum, maximum)
    return value


def env_float(
    name: str, default: float, *, minimum: float = 0.0, maximum: float | None = None
) -> float:
    """Return the variable as a number within [minimum, maximum]."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, not {raw!r}")
    _check_range(name, value, minimum, maximum)
    return value


def _check_range(name: str, value: float, minimum: float, maximum: float | None) -> None:
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise ConfigError(f"{name} must be at least {minimum}{upper}, not {value}")
