"""The `waiter` command: place orders with the kitchen and follow them."""

import json
import os
import sys
import time
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from restaurant.exceptions import ConfigError, InvalidOrder, MenuError
from restaurant.menu import load_menu
from restaurant.orders import MAX_QUANTITY, Order, Rules, check_quantity, make_order
from restaurant.settings import load_settings
from waiter.exceptions import BadConfiguration, BadInput, DishesFailed, WaiterError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from waiter.keys import Ticket
    from waiter.placing import PlacedOrder

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def waiter() -> None:
    """Take orders to the kitchen and follow them until they are ready."""


@app.command()
def order(
    table: Annotated[int | None, typer.Option("--table", "-t", help="Table number.")] = None,
    dish: Annotated[
        list[str] | None, typer.Option("--dish", "-d", help="A dish; repeat for several.")
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
) -> None:
    """Place an order: one kitchen task per dish (and per portion)."""
    from waiter.firing import Placement
    from waiter.placing import place_orders
    from waiter.when import fire_time

    when = fire_time(fire_in, fire_at, datetime.now())
    if hold and (course is None or when is not None):
        raise BadInput("--hold needs --course, and cannot be combined with --in or --at")
    how = Placement(rush, course, when.timestamp() if when else None, hold)
    batch = _tickets(table, dish or [], quantity, note, file, key)
    placed = {}
    for item in place_orders(batch, how):
        placed[item.order_id] = item.order
        typer.echo(_placed_line(item))
    if how.held:
        from restaurant.events import held_until

        hint = "" if when else f": waiter fire --table {table or 'T'} --course {course}"
        typer.echo(f"Held {held_until(how.fire_at, course)}{hint}")
    if not wait:
        return
    from waiter.progress import open_display, shortfall
    from waiter.watch import follow

    with open_display(placed) as display:
        for event in follow(list(placed), timeout):
            display.show(event)
    if problem := shortfall(display, len(placed)):
        raise DishesFailed(problem)


@app.command()
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
        ("ordered", _clock(record.created_at)),
        ("cooked", f"{ready.cook_seconds:.1f} s" if ready and ready.cook_seconds else ""),
    ]
    for label, value in lines:
        if value not in ("", None):
            typer.echo(f"{label + ':':<10}{_plain(value)}")
    typer.echo("history:")
    for event in record.history:
        detail = event.reason or (f"{event.percent}%" if event.event is Kind.PROGRESS else "")
        by = f"attempt {event.attempt}, {event.worker}" if event.worker else ""
        typer.echo(_plain(f"  {_clock(event.time)}  {event.event:<10}{by:<36}{detail}".rstrip()))


@app.command()
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
        fires = _clock(record.fire_at)[:-4]
        if record.course is not None:
            fires = f"course {record.course}" + (f" at {fires}" if fires else "")
        _add_row(
            shown,
            record.order_id,
            str(record.table or ""),
            record.dish or "",
            record.station or "",
            state,
            str(record.attempt or ""),
            record.worker or "",
            _clock(record.created_at),
            fires,
        )
    _console().print(shown)


@app.command()
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
                typer.echo(item.to_json() if as_json else _plain(describe(item)))
    except KeyboardInterrupt:
        return


@app.command()
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


@app.command()
def fire(
    table: Annotated[int, typer.Option("--table", "-t", help="Table number.")],
    course: Annotated[int, typer.Option("--course", min=1, max=20, help="The course to fire.")],
) -> None:
    """Send a held course to the kitchen."""
    from waiter.client import fire_course

    sent = fire_course(table, course)
    typer.echo(f"Course {course} for table {table} fired: {len(sent)} dishes sent to the kitchen")


@app.command()
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
            typer.confirm(f"Delete {len(letters)} failed orders for good?", abort=True)
        removed = purge_failed([letter.order_id for letter in letters])
        typer.echo(f"Deleted {removed} failed orders.")
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
        _add_row(
            shown,
            letter.order_id,
            str(letter.table or ""),
            letter.dish or "",
            _clock(letter.failed_at),
            str(letter.attempt or ""),
            str(letter.deliveries or ""),
            letter.reason,
            letter.error or "",
        )
    _console().print(shown)
    if total > len(letters):
        typer.echo(f"({len(letters)} newest of {total}; see --limit)")


@app.command()
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


@app.command()
def menu() -> None:
    """Show the dishes, their station and its capacity, cooking time and time limits."""
    from rich.table import Table

    table = Table("Dish", "Station", "Capacity", "Cooking time", "Soft limit", "Hard limit")
    the_menu = load_menu()
    for dish in the_menu.dishes:
        shortest, longest = dish.cook_seconds
        capacity = the_menu.stations[dish.station].capacity
        table.add_row(
            dish.name,
            dish.station,
            str(capacity) if capacity else "any",
            f"{shortest:g}-{longest:g} s",
            f"{dish.soft_limit:g} s",
            f"{dish.hard_limit:g} s",
        )
    _console().print(table)


def _tickets(
    table: int | None,
    dishes: list[str],
    quantity: int,
    note: str | None,
    file: Path | None,
    key: str | None,
) -> list["Ticket"]:
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


def _console() -> "Console":
    from rich.console import Console

    console = Console()
    # Piped output is not cut to 80 columns: order ids stay whole for other programs.
    return console if console.is_terminal else Console(width=200)


def _plain(value: object) -> str:
    """Stored text as inert text: control characters (a planted ESC or BEL) shown escaped.

    So are the invisible marks that reorder text (bidi overrides); joiners, which emoji and
    some scripts need, are kept.
    """
    return "".join(
        repr(char)[1:-1]
        if unicodedata.category(char).startswith("C") and char not in _JOINERS
        else char
        for char in str(value)
    )


#: Zero-width non-joiner and joiner: format characters that belong to ordinary text.
_JOINERS = frozenset("\u200c\u200d")


def _add_row(table: "Table", *cells: str) -> None:
    """Add a row of stored text, taken literally: no rich markup, no control characters."""
    from rich.text import Text

    table.add_row(*(Text(_plain(cell)) for cell in cells))


def _clock(timestamp: object) -> str:
    if not isinstance(timestamp, int | float):
        return ""
    return datetime.fromtimestamp(timestamp).strftime("%H:%M:%S.%f")[:-3]


def _usage_message(exc: typer.TyperException) -> str:
    message = str(exc).strip()
    param = getattr(exc, "param", None)
    hint = getattr(param, "opts", None) or []
    if hint and hint[0] not in message:
        message = f"{'/'.join(hint)}: {message}"
    return message.splitlines()[0] if message else "invalid command line"


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"waiter: error: {message}", err=True)
    raise SystemExit(code)


def main() -> None:
    """Run the waiter; the one place where errors become a message and an exit code."""
    try:
        code = app(standalone_mode=False)
    except WaiterError as exc:
        _fail(str(exc), exc.exit_code)
    except InvalidOrder as exc:
        _fail(str(exc), BadInput.exit_code)
    except (ConfigError, MenuError) as exc:
        _fail(str(exc), BadConfiguration.exit_code)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            typer.echo(str(exc.format_message()))
            sys.exit(0)
        # Typer's own usage errors (a missing value, "abc" for a number): name the option too.
        _fail(_usage_message(exc), BadInput.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except Exception as exc:
        if os.environ.get("WAITER_DEBUG"):
            raise
        _fail(f"unexpected {type(exc).__name__}: {exc} (set WAITER_DEBUG=1 for a traceback)", 1)
    sys.exit(code if isinstance(code, int) else 0)
