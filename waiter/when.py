"""When a held order fires: `--in 20m` (a delay) or `--at 19:30` (a time of day)."""

import re
from datetime import datetime, timedelta
from typing import Final

from waiter.exceptions import BadInput

#: The longest an order may be held until a time.
MAX_HOLD: Final = timedelta(hours=24)

_DELAY = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?")
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?")


def parse_delay(text: str) -> timedelta:
    """Read a delay such as 90s, 20m, 1h30m or 45 (seconds)."""
    cleaned = text.strip().lower()
    match = _DELAY.fullmatch(cleaned)
    if not cleaned or match is None or not any(match.groups()):
        raise BadInput(f"--in: {text!r} is not a delay (try 90s, 20m or 1h30m)")
    hours, minutes, seconds = match.groups()
    delay = timedelta(hours=int(hours or 0), minutes=int(minutes or 0), seconds=float(seconds or 0))
    if not timedelta(0) < delay <= MAX_HOLD:
        raise BadInput(f"--in: {text!r} must be more than nothing and at most 24h")
    return delay


def parse_clock(text: str, now: datetime) -> datetime:
    """Read a time of day such as 19:30 or 19:30:15: its next coming, today or tomorrow."""
    match = _CLOCK.fullmatch(text.strip())
    if match is None:
        raise BadInput(f"--at: {text!r} is not a time of day (try 19:30)")
    hour, minute, second = (int(part or 0) for part in match.groups())
    when = now.replace(hour=hour, minute=minute, second=second, microsecond=0)
    return when if when > now else when + timedelta(days=1)


def fire_time(delay: str | None, clock: str | None, now: datetime) -> datetime | None:
    """Return when to fire the order from --in or --at (not both), or None to send it now."""
    if delay is not None and clock is not None:
        raise BadInput("give --in or --at, not both")
    if delay is not None:
        return now + parse_delay(delay)
    if clock is not None:
        return parse_clock(clock, now)
    return None
