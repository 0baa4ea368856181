"""`waiter failed` and `waiter retry`: the orders that failed for good (the dead letters)."""

import json
import sys
from typing import Annotated

import typer

from waiter.commands import examples
from waiter.display import add_row, clock, console, counted
from waiter.exceptions import BadInput

FAILED_EXAMPLES = examples("waiter failed --limit 10", "waiter failed --purge --yes")
RETRY_EXAMPLES = examples("waiter retry 23daa88a-486f-4754-a3d7-5ea68a8bd2df")


def failed(
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=10_000, help="Show at most this many.")
    ] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print them as JSON.")] = False,
    purge: Annotated[
        bool, typer.Option("--purge", help="Delete every dead letter (asks first).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="With --purge: do not ask.")] = False,
) -> None:
    """List the orders that failed for good (the dead letters), or empty the list."""
    from waiter.dead_letters import failed_orders, purge_failed

    total, letters = failed_orders(10_000_000 if purge else limit)
    if purge:
        if not letters:
            typer.echo("no failed orders")
            return
        if not yes:
            if not sys.stdin.isatty():
                raise BadInput("--purge asks before deleting; add --yes to purge without asking")
            typer.confirm(f"Delete {counted(len(letters), 'failed order')} for good?", abort=True)
        removed = purge_failed([letter.order_id for letter in letters])
        typer.echo(f"Deleted {counted(removed, 'failed order')}.")
        return
    if as_json:
        typer.echo(json.dumps([letter.as_dict() for letter in letters], indent=2))
        return
    if not letters:
        typer.echo("no failed orders")
        return
    from rich.table import Table

    shown = Table("Order", "Table", "Dish", "Failed", "Attempt", "Deliveries", "Reason", "Error")
    for letter in letters:
        add_row(
            shown,
            letter.order_id,
            str(letter.table or ""),
            letter.dish or "",
            clock(letter.failed_at),
            str(letter.attempt or ""),
            str(letter.deliveries or ""),
            letter.reason,
            letter.error or "",
        )
    console().print(shown)
    if total > len(letters):
        typer.echo(f"({len(letters)} newest of {total}; see --limit)")


def retry(
    order_id: Annotated[str, typer.Argument(help="A failed order's id (see 'waiter failed').")],
) -> None:
    """Send a failed order back to the kitchen as a new attempt (safe to repeat)."""
    from waiter.dead_letters import retry_order

    retried = retry_order(order_id.strip())
    if retried.new:
        typer.echo(
            f"Order {retried.order_id} sent back to the kitchen as attempt {retried.attempt}."
        )
    else:
        typer.echo(
            f"Order {retried.order_id} is back in the kitchen already "
            f"(attempt {retried.attempt}, {retried.status})."
        )
