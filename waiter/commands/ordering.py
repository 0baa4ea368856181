"""`waiter order`, `waiter cancel` and `waiter fire`: sending dishes to the kitchen or not."""

import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, SupportsIndex

import typer

from restaurant.exceptions import ConfigError, MenuError
from restaurant.menu import load_menu
from restaurant.orders import MAX_QUANTITY, Order, Rules, check_quantity, make_order
from restaurant.settings import load_settings
from waiter.commands import examples
from waiter.display import counted, plain
from waiter.exceptions import BadInput, DishesFailed

if TYPE_CHECKING:
    from waiter.keys import KeyedOrder
    from waiter.placing import PlacedOrder
    from waiter.ticketing import TicketPlan

ORDER_EXAMPLES = examples(
    "waiter order --table 1 --dish Pasta",
    "waiter order -t 4 -d Salad -d Steak --course 2 --hold",
)
CANCEL_EXAMPLES = examples("waiter cancel c39cd3fa-12fc-4608-af29-8afdabfbc19a")
FIRE_EXAMPLES = examples("waiter fire --table 4 --course 2")


class _Offered(str):
    """A dish name offered for what was typed, whatever the case of either."""

    __slots__ = ()

    # Typer keeps only the offers that start with what was typed, case and all.
    def startswith(
        self,
        prefix: str | tuple[str, ...],
        start: SupportsIndex | None = None,
        end: SupportsIndex | None = None,
        /,
    ) -> bool:
        """Whether the name starts with `prefix`, ignoring case."""
        prefixes = (prefix,) if isinstance(prefix, str) else prefix
        return self.casefold().startswith(tuple(p.casefold() for p in prefixes), start, end)


def complete_dish(incomplete: str) -> list[str]:
    """The menu's dishes whose name starts with what was typed, ignoring case."""
    try:
        dishes = load_menu().dishes
    except (ConfigError, MenuError):
        return []
    typed = incomplete.casefold()
    return [_Offered(dish.name) for dish in dishes if dish.name.casefold().startswith(typed)]


def order(
    table: Annotated[int | None, typer.Option("--table", "-t", help="Table number.")] = None,
    dish: Annotated[
        list[str] | None,
        typer.Option(
            "--dish", "-d", help="A dish; repeat for several.", autocompletion=complete_dish
        ),
    ] = None,
    quantity: Annotated[
        int, typer.Option("--quantity", "-q", help=f"Portions of each dish (1-{MAX_QUANTITY}).")
    ] = 1,
    note: Annotated[str | None, typer.Option("--note", help="A note for the kitchen.")] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            help='A JSON batch: [{"table": 1, "dish": "Pasta"}, ...]; \'-\' reads stdin.',
        ),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until every dish is done.")] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=0.1,
            help="Seconds --wait waits at most.",
        ),
    ] = 60.0,
    rush: Annotated[
        bool, typer.Option("--rush", help="Cooks take it before ordinary orders.")
    ] = False,
    fire_in: Annotated[
        str | None, typer.Option("--in", help="Hold it, then fire after this delay (20m, 90s).")
    ] = None,
    fire_at: Annotated[
        str | None, typer.Option("--at", help="Hold it, then fire at this time of day (19:30).")
    ] = None,
    course: Annotated[
        int | None, typer.Option("--course", min=1, max=20, help="The course it belongs to.")
    ] = None,
    hold: Annotated[
        bool, typer.Option("--hold", help="Hold the course until 'waiter fire'.")
    ] = False,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="An idempotency key: placing the same order under it again places nothing new.",
        ),
    ] = None,
    ticket: Annotated[
        int | None,
        typer.Option(
            "--ticket", min=1, help="Add the dishes to this open ticket (add-ons); no --table."
        ),
    ] = None,
) -> None:
    """Place an order: one kitchen task per dish (and per portion)."""
    from waiter.firing import Placement
    from waiter.placing import place_orders
    from waiter.when import fire_time

    when = fire_time(fire_in, fire_at, datetime.now())
    if hold and (course is None or when is not None):
        raise BadInput("--hold needs --course, and cannot be combined with --in or --at")
    how = Placement(rush, course, when.timestamp() if when else None, hold)
    if ticket is not None:
        batch, plans = _addons(ticket, table, dish or [], quantity, note, file, key)
    else:
        from waiter.ticketing import plan_tickets

        batch = _keyed_orders(table, dish or [], quantity, note, file, key)
        plans = plan_tickets(batch, key)
    placed = {}
    for item in place_orders(batch, how, plans):
        placed[item.order_id] = item.order
        typer.echo(_placed_line(item))
    # --wait's timeout counts from here, not from once its imports have loaded.
    placed_at = time.monotonic()
    for plan in plans:
        typer.echo(plain(plan.line()))
    if how.held:
        from restaurant.events import held_until

        hint = "" if when else f": waiter fire --table {table or 'T'} --course {course}"
        typer.echo(f"Held {held_until(how.fire_at, course)}{hint}")
    if not wait:
        return
    from waiter.progress import open_display, shortfall
    from waiter.watch import follow

    with open_display(placed) as display:
        for event in follow(list(placed), timeout, since=placed_at):
            display.show(event)
    if problem := shortfall(display, len(placed)):
        raise DishesFailed(problem)


def cancel(
    order_id: Annotated[str, typer.Argument(help="The id printed when the order was placed.")],
) -> None:
    """Cancel an order: a queued dish is never cooked, one on the stove stops at once."""
    from waiter.client import cancel_order

    before = cancel_order(order_id.strip())
    typer.echo(
        f"Order {before.order_id} ({before.dish} for table {before.table}) cancelled; "
        f"it was {before.status}."
    )


def fire(
    table: Annotated[int, typer.Option("--table", "-t", help="Table number.")],
    course: Annotated[int, typer.Option("--course", min=1, max=20, help="The course to fire.")],
) -> None:
    """Send a held course to the kitchen."""
    from waiter.client import fire_course

    sent = counted(len(fire_course(table, course)), "dish", "dishes")
    typer.echo(f"Course {course} for table {table} fired: {sent} sent to the kitchen")


def _addons(
    number: int,
    table: int | None,
    dishes: list[str],
    quantity: int,
    note: str | None,
    file: Path | None,
    key: str | None,
) -> tuple[list["KeyedOrder"], list["TicketPlan"]]:
    """Dishes added to ticket `number`, checked before asking Redis; the table is the ticket's."""
    from waiter.ticketing import addon_plan, ticket_for_addon

    if file is not None:
        raise BadInput("--ticket cannot be combined with --file")
    if not dishes:
        raise BadInput("say what to add to the ticket with --dish (repeat it for several dishes)")
    # Everything about the dishes is checked first (on the ticket's table, when one is given).
    _keyed_orders(table or 1, dishes, quantity, note, None, key)
    state = ticket_for_addon(number, table)
    batch = _keyed_orders(state.table, dishes, quantity, note, None, key)
    return batch, addon_plan(state, batch)


def _keyed_orders(
    table: int | None,
    dishes: list[str],
    quantity: int,
    note: str | None,
    file: Path | None,
    key: str | None,
) -> list["KeyedOrder"]:
    """The orders to place, from the command line or a batch file, under their keys."""
    from waiter.keys import check_key, tickets

    if key is not None:
        key = check_key(key)
    if file is None:
        return tickets(_orders_from_arguments(table, dishes, quantity, note), key)
    if table is not None or dishes or note is not None or quantity != 1:
        raise BadInput("--file cannot be combined with --table, --dish, --quantity or --note")
    from waiter.batch import read_batch

    batch = read_batch(file, _rules(), time.time())
    if key is None:
        return batch
    # Lines with their own key keep it; the others are keyed by their place in the file.
    return [
        ticket if ticket.key else tickets([ticket.order], f"{key}#{number}")[0]
        for number, ticket in enumerate(batch, start=1)
    ]


def _placed_line(item: "PlacedOrder") -> str:
    where = f"Order for table {item.order.table}"
    if item.new:
        return f"{where} created: {item.order_id}"
    if item.resent:
        return f"{where} sent again (placed before, never sent): {item.order_id}"
    return f"{where} already placed: {item.order_id} ({item.status})"


def _rules() -> Rules:
    return Rules(load_menu(), load_settings().tables)


def _orders_from_arguments(
    table: int | None, dishes: list[str], quantity: int, note: str | None
) -> list[Order]:
    rules = _rules()
    ordered_at = time.time()
    if table is None:
        raise BadInput("say which table with --table (or give a batch with --file)")
    if not dishes:
        raise BadInput("say what to cook with --dish (repeat it for several dishes)")
    check_quantity(quantity)
    orders = []
    for name in dishes:
        order = make_order(
            {"table": table, "dish": name, "note": note, "ordered_at": ordered_at}, rules
        )
        orders.extend([order] * quantity)
    return orders
