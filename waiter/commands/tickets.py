"""`waiter tickets`, `waiter serve`, `waiter recall` and `waiter report`: tickets at the pass."""

import json
import time
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from waiter.commands import examples
from waiter.display import add_row, clock, console, plain

if TYPE_CHECKING:
    from rich.text import Text

    from restaurant.speed import StationSpeed, Times

TICKETS_EXAMPLES = examples("waiter tickets --open", "waiter tickets --table 3 --json")
SERVE_EXAMPLES = examples("waiter serve 42")
RECALL_EXAMPLES = examples("waiter recall 42")
REPORT_EXAMPLES = examples("waiter report", "waiter report --json")

#: Dishes no longer waited for; a cancelled one stays on its ticket, struck through.
FINISHED = frozenset({"ready", "failed", "cancelled"})


def tickets(
    open_only: Annotated[
        bool, typer.Option("--open", help="Only tickets not yet served (open or ready).")
    ] = False,
    table: Annotated[
        int | None, typer.Option("--table", "-t", help="Only this table's tickets.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the tickets as JSON.")] = False,
) -> None:
    """List the tickets at the pass, and those served within the recall window."""
    from waiter.ticketing import ticket_snapshot

    snapshot = ticket_snapshot()
    now = time.time()
    shown = [
        ticket_view(ticket, snapshot["orders"], now)
        for ticket in snapshot["tickets"]
        if (table is None or ticket["table"] == table)
        and not (open_only and ticket["status"] == "served")
    ]
    if as_json:
        typer.echo(json.dumps(shown, indent=2))
        return
    if not shown:
        typer.echo("no tickets" + (f" for table {table}" if table is not None else ""))
        return
    from rich.table import Table
    from rich.text import Text

    listed = Table("Ticket", "Table", "Status", "Age", "Time", "Dishes")
    for ticket in shown:
        cells = (ticket["number"], ticket["table"], ticket["status"])
        listed.add_row(
            *(Text(plain(cell)) for cell in cells),
            Text(duration(ticket["age_seconds"])),
            Text(_when(ticket)),
            _dishes_cell(ticket["dishes"]),
        )
    console().print(listed)


def ticket_view(ticket: dict[str, Any], orders: dict[str, Any], now: float) -> dict[str, Any]:
    """A ticket as `waiter tickets` shows it: its fields, its age, and its dishes with status."""
    dishes = []
    for order_id in ticket["dishes"]:
        order = orders.get(order_id, {})
        dish = {
            "order_id": order_id,
            "dish": order.get("dish"),
            "station": order.get("station"),
            "status": order.get("status", "unknown"),
            "addon": bool(order.get("addon")),
        }
        dish.update({name: order[name] for name in ("note", "course", "reason") if name in order})
        dishes.append(dish)
    end = ticket.get("served_at") or now
    view = {name: value for name, value in ticket.items() if name != "dishes"}
    view["age_seconds"] = round(max(0.0, end - ticket["created_at"]), 3)
    view["dishes"] = dishes
    return view


def duration(seconds: float) -> str:
    """A ticket's age as the pass reads it: 45 s, 7m 05s, 1h 02m."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def _when(ticket: dict[str, Any]) -> str:
    """When the ticket was sent, and served or ready if it was."""
    sent = clock(ticket["created_at"])[:-4]
    if ticket.get("served_at"):
        return f"{sent}, served {clock(ticket['served_at'])[:-4]}"
    if ticket.get("ready_at"):
        return f"{sent}, ready {clock(ticket['ready_at'])[:-4]}"
    return sent


def _dishes_cell(dishes: list[dict[str, Any]]) -> "Text":
    """Each dish with its status; a cancelled one struck through, an add-on marked."""
    from rich.text import Text

    cell = Text()
    for index, dish in enumerate(dishes):
        if index:
            cell.append(", ")
        status = dish["status"] + (", add-on" if dish["addon"] else "")
        style = "strike" if dish["status"] == "cancelled" else ""
        cell.append(plain(dish["dish"] or "?"), style=style)
        cell.append(f" ({plain(status)})")
    return cell


def serve(number: Annotated[int, typer.Argument(min=1, help="The ticket's number.")]) -> None:
    """Serve a ready ticket at the pass (bump it); a ticket is served once."""
    from waiter.ticketing import serve_ticket

    served = serve_ticket(number)
    typer.echo(f"Ticket {number} for table {served.table} served at {clock(served.served_at)[:-4]}")


def recall(number: Annotated[int, typer.Argument(min=1, help="The ticket's number.")]) -> None:
    """Bring a served ticket back to the pass, within the recall window."""
    from waiter.ticketing import recall_ticket

    recalled = recall_ticket(number)
    typer.echo(f"Ticket {number} for table {recalled.table} recalled: {recalled.status} again")


def report(
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Speed of service today: tickets per quarter hour, ticket and cook times per station."""
    from restaurant.menu import load_menu
    from waiter.ticketing import speed_figures

    now = time.time()
    quarters, speed = speed_figures(list(load_menu().stations), now)
    if as_json:
        figures = {
            "day": datetime.fromtimestamp(now).strftime("%Y-%m-%d"),
            "until": now,
            "quarters": [{"start": start, "tickets": count} for start, count in quarters],
            "stations": {name: _station_json(figures) for name, figures in speed.items()},
        }
        typer.echo(json.dumps(figures, indent=2))
        return
    _print_report(quarters, speed, now)


def _station_json(speed: "StationSpeed") -> dict[str, Any]:
    return {"cook": vars(speed.cook), "ticket": vars(speed.ticket)}


def _print_report(
    quarters: list[tuple[float, int]], speed: dict[str, "StationSpeed"], now: float
) -> None:
    from rich.table import Table

    day = datetime.fromtimestamp(now).strftime("%Y-%m-%d")
    sent = sum(count for _, count in quarters)
    typer.echo(f"Speed of service on {day}, until {clock(now)[:-4]}: {sent} tickets")
    busy = [index for index, (_, count) in enumerate(quarters) if count]
    if busy:
        per_quarter = Table("Quarter", "Tickets", "")
        most = max(count for _, count in quarters)
        for start, count in quarters[busy[0] :]:
            bar = "#" * max(1 if count else 0, round(20 * count / most))
            add_row(per_quarter, clock(start)[:-7], str(count), bar)
        console().print(per_quarter)
    stations = Table(
        "Station",
        "Dishes",
        "Cook median",
        "Cook p90",
        "Tickets",
        "Ticket median",
        "Ticket p90",
        title="Per station: cook time per dish, ticket time (sent to the station's part done)",
    )
    for name, figures in speed.items():
        add_row(
            stations,
            name,
            str(figures.cook.count),
            _seconds(figures.cook, "p50"),
            _seconds(figures.cook, "p90"),
            str(figures.ticket.count),
            _seconds(figures.ticket, "p50"),
            _seconds(figures.ticket, "p90"),
        )
    console().print(stations)


def _seconds(times: "Times", which: str) -> str:
    value = getattr(times, which)
    return "" if value is None else f"{value:.1f} s"
