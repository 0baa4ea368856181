"""`waiter status`, `waiter orders` and `waiter watch`: where orders stand, and their news."""

import json
from typing import Annotated

import typer

from waiter.commands import examples
from waiter.display import add_row, clock, console, plain

STATUS_EXAMPLES = examples(
    "waiter status 17ed2027-c5d8-474d-81eb-fb2958bfd077",
    "waiter status 17ed2027-c5d8-474d-81eb-fb2958bfd077 --json",
)
ORDERS_EXAMPLES = examples("waiter orders --open", "waiter orders --table 2 --limit 10 --json")
WATCH_EXAMPLES = examples(
    "waiter watch --table 2",
    "waiter watch --order 17ed2027-c5d8-474d-81eb-fb2958bfd077 --json",
)


def status(
    order_id: Annotated[str, typer.Argument(help="The id printed when the order was placed.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
) -> None:
    """Show where an order stands, and its history, from the order ledger."""
    from restaurant.events import Kind
    from waiter.client import order_record

    record = order_record(order_id.strip())
    if as_json:
        typer.echo(json.dumps(record.as_dict(), indent=2, sort_keys=True))
        return
    ready = next((event for event in record.history if event.event is Kind.READY), None)
    lines = [
        ("order", record.order_id),
        ("table", record.table),
        ("dish", record.dish),
        ("station", record.station),
        ("note", record.note),
        ("status", record.status),
        ("reason", record.reason),
        ("attempts", record.attempt or ""),
        ("worker", record.worker),
        ("ordered", clock(record.created_at)),
        ("cooked", f"{ready.cook_seconds:.1f} s" if ready and ready.cook_seconds else ""),
    ]
    for label, value in lines:
        if value not in ("", None):
            typer.echo(f"{label + ':':<10}{plain(value)}")
    typer.echo("history:")
    for event in record.history:
        detail = event.reason or (f"{event.percent}%" if event.event is Kind.PROGRESS else "")
        by = f"attempt {event.attempt}, {event.worker}" if event.worker else ""
        typer.echo(plain(f"  {clock(event.time)}  {event.event:<10}{by:<36}{detail}".rstrip()))


def orders(
    table: Annotated[
        int | None, typer.Option("--table", "-t", help="Only this table's orders.")
    ] = None,
    open_only: Annotated[
        bool, typer.Option("--open", help="Only orders not yet finished.")
    ] = False,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=10_000, help="Show at most this many.")
    ] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the orders as JSON.")] = False,
) -> None:
    """List recent orders (or only open ones) from the order ledger."""
    from waiter.client import list_orders

    records = list_orders(table, open_only, limit)
    if as_json:
        typer.echo(json.dumps([record.as_dict() for record in records], indent=2))
        return
    if not records:
        typer.echo("no orders" + (f" for table {table}" if table is not None else ""))
        return
    from rich.table import Table

    shown = Table(
        "Order", "Table", "Dish", "Station", "Status", "Attempt", "Worker", "Ordered", "Fires"
    )
    for record in records:
        state = record.status
        if state == "preparing" and record.percent:
            state = f"preparing {record.percent}%"
        if record.rush:
            state += ", rush"
        fires = clock(record.fire_at)[:-4]
        if record.course is not None:
            fires = f"course {record.course}" + (f" at {fires}" if fires else "")
        add_row(
            shown,
            record.order_id,
            str(record.table or ""),
            record.dish or "",
            record.station or "",
            state,
            str(record.attempt or ""),
            record.worker or "",
            clock(record.created_at),
            fires,
        )
    console().print(shown)


def watch(
    table: Annotated[
        int | None, typer.Option("--table", "-t", help="Only this table's orders.")
    ] = None,
    order_id: Annotated[str | None, typer.Option("--order", help="Only this order.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print each event as one line of JSON.")
    ] = False,
) -> None:
    """Print order events live, one line each, until Ctrl-C."""
    from restaurant.events import describe
    from waiter.client import check_order_id
    from waiter.watch import Notice
    from waiter.watch import watch as watch_events

    if order_id is not None:
        order_id = order_id.strip()
        check_order_id(order_id)
    try:
        for item in watch_events(table=table, order_id=order_id):
            if isinstance(item, Notice):
                typer.echo(f"waiter: {item.text}", err=True)
            else:
                typer.echo(item.to_json() if as_json else plain(describe(item)))
    except KeyboardInterrupt:
        return
