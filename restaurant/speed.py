"""Speed of service: cook and ticket times per station, and tickets per quarter hour."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import redis

from restaurant.names import SPEED_COOK_PREFIX, SPEED_TICKET_PREFIX, TICKETS_DAY_PREFIX
from restaurant.records import decode_text
from restaurant.ticket_records import day_of

QUARTER: Final = 900.0


@dataclass(frozen=True)
class Times:
    """A set of durations (seconds): how many, their mean, median and 90th percentile."""

    count: int
    mean: float | None
    p50: float | None
    p90: float | None


@dataclass(frozen=True)
class StationSpeed:
    """One station's cook times (per dish) and ticket times (sent to its part done)."""

    station: str
    cook: Times
    ticket: Times


def summarize(values: list[float]) -> Times:
    """Count, mean and nearest-rank median and 90th percentile of `values`."""
    if not values:
        return Times(0, None, None, None)
    ordered = sorted(values)

    def rank(share: float) -> float:
        return ordered[max(0, math.ceil(share * len(ordered)) - 1)]

    return Times(len(ordered), sum(ordered) / len(ordered), rank(0.5), rank(0.9))


def station_speed(
    client: redis.Redis, stations: list[str], since: float, until: float
) -> dict[str, StationSpeed]:
    """Each station's cook and ticket times of what finished between `since` and `until`."""
    pipe = client.pipeline(transaction=False)
    for station in stations:
        pipe.zrangebyscore(SPEED_COOK_PREFIX + station, since, until)
        pipe.zrangebyscore(SPEED_TICKET_PREFIX + station, since, until)
    replies: list[Any] = pipe.execute() if stations else []
    return {
        station: StationSpeed(
            station, summarize(_seconds(replies[2 * i])), summarize(_seconds(replies[2 * i + 1]))
        )
        for i, station in enumerate(stations)
    }


def _seconds(members: list[Any]) -> list[float]:
    """The durations of "<id>:<seconds>" members."""
    found = []
    for member in members:
        _, _, seconds = decode_text(member).rpartition(":")
        try:
            found.append(float(seconds))
        except ValueError:
            continue
    return found


def day_start(moment: float) -> float:
    """Midnight (local time) of the day `moment` falls in."""
    day = datetime.fromtimestamp(moment).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp()


def tickets_per_quarter(client: redis.Redis, moment: float) -> list[tuple[float, int]]:
    """How many tickets were sent in each quarter hour of the day `moment` falls in, up to it."""
    start = day_start(moment)
    key = TICKETS_DAY_PREFIX + day_of(moment)
    sent: Any = client.zrangebyscore(key, start, "+inf", withscores=True)
    next_day = (datetime.fromtimestamp(start) + timedelta(days=1)).timestamp()
    quarters = math.ceil((min(moment, next_day) - start) / QUARTER) or 1
    counts = [0] * quarters
    for _member, score in sent:
        index = int((float(score) - start) // QUARTER)
        if 0 <= index < quarters:
            counts[index] += 1
    return [(start + i * QUARTER, count) for i, count in enumerate(counts)]
