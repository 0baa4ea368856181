"""Showing `waiter order --wait` live: progress bars in a terminal, plain lines elsewhere."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from restaurant.events import Kind, OrderEvent
from restaurant.orders import Order
from waiter.display import counted

#: Above this many dishes, one bar counts finished dishes instead of a bar per dish.
MAX_BARS = 20


class Display(Protocol):
    """Shows the events of the orders being waited for."""

    #: How many dishes failed.
    failed: int
    #: How many dishes were cancelled.
    cancelled: int

    def show(self, event: OrderEvent) -> None:
        """Show one event."""


def outcome_line(order: Order, event: OrderEvent) -> str:
    """Say how a dish ended, in one line: ready, failed or cancelled, and after how long."""
    elapsed = event.time - (order.ordered_at or event.time)
    what = f"{order.dish} for table {order.table}"
    if event.event is Kind.READY:
        return (
            f"{what} is ready after {elapsed:.1f} s "
            f"(order {event.order_id}, attempt {event.attempt}, {event.worker})"
        )
    if event.event is Kind.CANCELLED:
        return f"{what} was cancelled after {elapsed:.1f} s (order {event.order_id})"
    return f"{what} failed after {elapsed:.1f} s (order {event.order_id}): {event.reason}"


def shortfall(display: Display, dishes: int) -> str:
    """Say how many dishes did not end ready ('' when all did)."""
    of_dishes = f"of {counted(dishes, 'dish', 'dishes')}"
    failed = f"{display.failed} {of_dishes} failed" if display.failed else ""
    if not display.cancelled:
        return failed
    cancelled = f"{display.cancelled} {'were' if display.cancelled > 1 else 'was'} cancelled"
    return (
        f"{failed} and {cancelled}" if failed else f"{display.cancelled} {of_dishes}: {cancelled}"
    )


def step_text(event: OrderEvent) -> str:
    """Say where a dish stands after a step that is not its last."""
    if event.event is Kind.RECEIVED:
        return f"taken by {event.worker}"
    if event.event is Kind.PREPARING:
        return f"preparing (attempt {event.attempt}, {event.worker})"
    if event.event is Kind.PROGRESS:
        return f"{event.percent}% cooked"
    if event.event is Kind.RETRYING:
        return f"trouble: {event.reason}; trying again in {event.retry_in or 0:.2f} s"
    return event.status


class PlainLines:
    """One line per step, for logs and pipes."""

    def __init__(self, placed: dict[str, Order]) -> None:
        self.placed = placed
        self.failed = 0
        self.cancelled = 0

    def show(self, event: OrderEvent) -> None:
        """Print the step, or the outcome."""
        order = self.placed[event.order_id]
        if event.final:
            self.failed += event.event is Kind.FAILED
            self.cancelled += event.event is Kind.CANCELLED
            typer.echo(outcome_line(order, event))
        elif event.event is not Kind.CREATED:
            typer.echo(
                f"{order.dish} for table {order.table} [{event.order_id[:8]}]: {step_text(event)}"
            )


class Bars:
    """A progress bar per dish (or one for the lot), with outcomes printed above them."""

    def __init__(self, placed: dict[str, Order], progress: Progress) -> None:
        self.placed = placed
        self.progress = progress
        self.failed = 0
        self.cancelled = 0
        self.bars: dict[str, TaskID] = {}
        if len(placed) > MAX_BARS:
            self.overall: TaskID | None = progress.add_task(
                f"{len(placed)} dishes", total=len(placed), step="waiting for the kitchen"
            )
        else:
            self.overall = None
            for order_id, order in placed.items():
                self.bars[order_id] = progress.add_task(
                    f"{order.dish} · table {order.table}", total=100, step="waiting"
                )

    def show(self, event: OrderEvent) -> None:
        """Move the dish's bar, or print its outcome above the bars."""
        order = self.placed[event.order_id]
        if event.final:
            self.failed += event.event is Kind.FAILED
            self.cancelled += event.event is Kind.CANCELLED
            self.progress.console.print(outcome_line(order, event), highlight=False)
        if self.overall is not None:
            if event.final:
                self.progress.advance(self.overall)
            return
        bar = self.bars[event.order_id]
        if event.final:
            self.progress.update(bar, completed=100, step=event.status, visible=False)
        else:
            self.progress.update(bar, completed=event.percent or 0, step=step_text(event))


@contextmanager
def open_display(placed: dict[str, Order]) -> Iterator[Display]:
    """Show progress bars when stdout is a terminal, plain lines otherwise."""
    console = Console(file=sys.stdout)
    if not console.is_terminal:
        yield PlainLines(placed)
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[step]}"),
        console=console,
        transient=True,
    )
    with progress:
        yield Bars(placed, progress)
