"""Unit tests: cooking, simulated trouble and retry delays, without Celery."""

import random

import pytest

from kitchen.recipes import CHECK_EVERY, PROGRESS_STEPS, Kitchen
from kitchen.retry import retry_delay
from kitchen.trouble import ForcedTrouble, Trouble, parse_trouble
from restaurant.exceptions import ConfigError, KitchenTrouble
from restaurant.menu import load_menu

MENU = load_menu()


class Clock:
    """Records the sleeps a kitchen asks for instead of sleeping, and moves its time on by them."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.time = 0.0

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.pass_time(seconds)

    def pass_time(self, seconds: float) -> None:
        self.time += seconds

    def now(self) -> float:
        return self.time


def kitchen(**kwargs: object) -> tuple[Kitchen, Clock]:
    clock = Clock()
    cook = Kitchen(MENU, sleep=clock, clock=clock.now, rng=random.Random(7), **kwargs)  # type: ignore[arg-type]
    return cook, clock


def test_cooking_time_is_within_the_menu_range_divided_by_the_speed() -> None:
    cook, clock = kitchen(speed=10)

    totals = []
    for _ in range(50):
        clock.sleeps.clear()
        cook.cook(MENU["Pasta"], attempt=1)
        totals.append(sum(clock.sleeps))

    assert all(0.3 <= seconds <= 0.6 for seconds in totals)
    assert len(set(totals)) > 40


def test_cooking_reports_progress_in_short_steps() -> None:
    cook, clock = kitchen(speed=1)
    reported: list[int] = []

    cook.cook(MENU["Steak"], attempt=1, on_progress=reported.append)

    assert max(clock.sleeps) <= CHECK_EVERY
    assert 6 <= sum(clock.sleeps) <= 10
    assert len(reported) == len(clock.sleeps) - 1 >= PROGRESS_STEPS - 1
    assert reported == sorted(reported)
    assert reported[0] > 0 and reported[-1] < 100


def test_reporting_progress_does_not_make_a_dish_take_longer() -> None:
    # Each report takes 0.05 s: the steps still end on the schedule set when cooking started,
    # and the dish takes what the menu drew for it (the same draw on both kitchens).
    steady, _ = kitchen()
    slowed, clock = kitchen()

    took = steady.cook(MENU["Steak"], attempt=1, on_progress=lambda percent: None)
    took_reporting = slowed.cook(
        MENU["Steak"], attempt=1, on_progress=lambda percent: clock.pass_time(0.05)
    )

    assert took_reporting == pytest.approx(took)
    assert all(pause <= CHECK_EVERY - 0.05 + 1e-9 for pause in clock.sleeps[1:])


def test_a_short_dish_still_reports_progress_a_few_times() -> None:
    cook, _ = kitchen(speed=100)
    reported: list[int] = []

    cook.cook(MENU["Tiramisu"], attempt=1, on_progress=reported.append)

    assert reported == [25, 50, 75]


def test_a_dish_too_short_to_sleep_reports_nothing() -> None:
    # Done within microseconds: whatever time passes between its steps is the machine's, not
    # cooking, and the dish is ready before anything it told could be seen.
    cook, clock = kitchen(speed=1_000_000)
    reported: list[int] = []

    cook.cook(MENU["Pasta"], attempt=1, on_progress=reported.append)

    assert clock.sleeps == [] and reported == []


def test_whatever_progress_raises_stops_the_cooking() -> None:
    cook, clock = kitchen(speed=1)

    def cancel_at_half(percent: int) -> None:
        if percent >= 50:
            raise LookupError("cancelled")

    with pytest.raises(LookupError, match="cancelled"):
        cook.cook(MENU["Pasta"], attempt=1, on_progress=cancel_at_half)
    assert 1.5 <= sum(clock.sleeps) <= 3.5


def test_limits_scale_with_speed() -> None:
    cook, _ = kitchen(speed=4)

    limits = cook.limits(MENU["Steak"])

    assert (limits.soft, limits.hard) == (25 / 4, 30 / 4)
    assert cook.longest_limits() == limits


def test_forced_trouble_strikes_only_its_attempts() -> None:
    cook, clock = kitchen(forced={"Burger": ForcedTrouble(Trouble.BUSY, attempts=2)})

    for attempt in (1, 2):
        with pytest.raises(KitchenTrouble, match="the grill station is busy"):
            cook.cook(MENU["Burger"], attempt)
    assert clock.sleeps == []
    cook.cook(MENU["Burger"], attempt=3)
    assert 4 <= sum(clock.sleeps) <= 7


def test_short_ingredient_on_every_attempt() -> None:
    cook, _ = kitchen(forced={"Steak": ForcedTrouble(Trouble.SHORT)})

    for attempt in range(1, 10):
        with pytest.raises(KitchenTrouble, match="ran short of an ingredient for Steak"):
            cook.cook(MENU["Steak"], attempt)


def test_a_slow_dish_cooks_past_its_hard_limit_unless_stopped() -> None:
    cook, clock = kitchen(speed=2, forced={"Soup": ForcedTrouble(Trouble.SLOW)})

    cook.cook(MENU["Soup"], attempt=1)

    assert sum(clock.sleeps) == pytest.approx(2 * 14 / 2)


def test_a_stuck_pot_ignores_being_interrupted() -> None:
    interruptions = []

    def sleep(seconds: float) -> None:
        interruptions.append(seconds)
        if len(interruptions) < 3:
            raise RuntimeError("stop, please")  # what a soft time limit does
        raise KeyboardInterrupt  # stands in for the hard kill, which no code can catch

    cook = Kitchen(MENU, forced={"Fries": ForcedTrouble(Trouble.STUCK)}, sleep=sleep)
    with pytest.raises(KeyboardInterrupt):
        cook.cook(MENU["Fries"], attempt=1)
    assert len(interruptions) == 3


def test_random_trouble_follows_the_failure_rate() -> None:
    cook, _ = kitchen(failure_rate=0.3)
    failures = 0
    for _ in range(2000):
        try:
            cook.cook(MENU["Salad"], attempt=1)
        except KitchenTrouble:
            failures += 1

    assert 500 <= failures <= 700


def test_no_trouble_at_rate_zero() -> None:
    cook, clock = kitchen(failure_rate=0.0)

    cooked = [cook.cook(MENU["Salad"], attempt=1) for _ in range(200)]

    assert len(cooked) == 200
    assert 200 * 1 <= sum(clock.sleeps) <= 200 * 3


def test_parse_trouble() -> None:
    forced = parse_trouble(" soup=slow , Burger=busy:2,Steak=short", MENU)

    assert forced == {
        "Soup": ForcedTrouble(Trouble.SLOW),
        "Burger": ForcedTrouble(Trouble.BUSY, 2),
        "Steak": ForcedTrouble(Trouble.SHORT),
    }
    assert parse_trouble("", MENU) == {}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("Lobster=busy", "names 'Lobster', which is not on the menu"),
        ("Soup=burnt", "'burnt' for Soup is not one of busy, short, slow, stuck"),
        ("Soup=busy:two", "attempts for Soup must be a number"),
    ],
)
def test_bad_trouble_specs(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_trouble(spec, MENU)


def test_retry_delays_double_up_to_the_cap_and_keep_at_least_half() -> None:
    rng = random.Random(1)
    for retries, ceiling in [(0, 1), (1, 2), (2, 4), (3, 8), (4, 10), (9, 10)]:
        delays = [retry_delay(retries, base=1, cap=10, rng=rng) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not constant


def test_retry_delay_zero_base() -> None:
    assert retry_delay(3, base=0, cap=10) == 0
