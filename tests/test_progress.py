"""Unit tests: what `waiter order --wait` shows, in a terminal and in a pipe."""

import io

import pytest
from rich.console import Console
from rich.progress import Progress

from restaurant.events import Kind, OrderEvent, make_event
from restaurant.menu import load_menu
from restaurant.orders import Order, Rules, make_order
from waiter.progress import MAX_BARS, Bars, PlainLines, shortfall

RULES = Rules(load_menu(), tables=50)


def order(dish: str = "Pasta", table: int = 3) -> Order:
    return make_order({"table": table, "dish": dish, "ordered_at": 100.0}, RULES)


def event(kind: Kind, order_id: str, **fields: object) -> OrderEvent:
    return make_event(kind, order_id, time=101.5, worker="chef1@vm", attempt=1, **fields)


def test_plain_lines_say_each_step_and_the_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    shown = PlainLines({"a" * 36: order()})

    shown.show(event(Kind.CREATED, "a" * 36))
    shown.show(event(Kind.PREPARING, "a" * 36, percent=0))
    shown.show(event(Kind.PROGRESS, "a" * 36, percent=50))
    shown.show(event(Kind.READY, "a" * 36, percent=100))

    assert capsys.readouterr().out.splitlines() == [
        "Pasta for table 3 [aaaaaaaa]: preparing (attempt 1, chef1@vm)",
        "Pasta for table 3 [aaaaaaaa]: 50% cooked",
        f"Pasta for table 3 is ready after 1.5 s (order {'a' * 36}, attempt 1, chef1@vm)",
    ]
    assert (shown.failed, shown.cancelled) == (0, 0)


def test_bars_draw_one_bar_per_dish_up_to_a_limit_then_one_for_all() -> None:
    few = {f"{n:036d}": order() for n in range(MAX_BARS)}
    many = {f"{n:036d}": order() for n in range(MAX_BARS + 1)}
    console = Console(file=io.StringIO(), force_terminal=True, width=100)

    with Progress(console=console) as progress:
        assert len(Bars(few, progress).bars) == MAX_BARS
    with Progress(console=console) as progress:
        bars = Bars(many, progress)
        assert bars.bars == {} and bars.overall is not None
        for order_id in list(many)[:5]:
            bars.show(event(Kind.FAILED, order_id, reason="burnt"))
        assert progress.tasks[0].completed == 5
    assert bars.failed == 5
    assert "Pasta for table 3 failed after 1.5 s" in console.file.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("failed", "cancelled", "message"),
    [
        (0, 0, ""),
        (2, 0, "2 of 5 dishes failed"),
        (0, 1, "1 of 5 dishes: 1 was cancelled"),
        (1, 2, "1 of 5 dishes failed and 2 were cancelled"),
    ],
)
def test_shortfall_says_what_did_not_end_ready(failed: int, cancelled: int, message: str) -> None:
    shown = PlainLines({})
    shown.failed, shown.cancelled = failed, cancelled

    assert shortfall(shown, 5) == message
