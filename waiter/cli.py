"""The `waiter` command: place orders with the kitchen and follow them."""

import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from restaurant.exceptions import ConfigError, InvalidOrder, MenuError
from restaurant.menu import load_menu
from restaurant.orders import MAX_QUANTITY, Order, Rules, check_quantity, make_order
from restaurant.settings import load_settings
from waiter.exceptions import BadConfiguration, BadInput, DishesFailed, WaiterError

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
) -> None:
    """Place an order: one kitchen task per dish (and per portion)."""
    from waiter.client import follow, place_orders

    orders = _orders_from_arguments(table, dish or [], quantity, note, file)
    placed = {}
    for item in place_orders(orders):
        placed[item.order_id] = item.order
        typer.echo(f"Order for table {item.order.table} created: {item.order_id}")
    if not wait:
        return
    failed = 0
    for outcome in follow(list(placed), timeout):
        ordered = placed[outcome.order_id]
        elapsed = time.time() - (ordered.ordered_at or time.time())
        what = f"{ordered.dish} for table {ordered.table}"
        if outcome.ready:
            typer.echo(
                f"{what} is ready after {elapsed:.1f} s "
                f"(order {outcome.order_id}, attempt {outcome.attempts}, {outcome.worker})"
            )
        else:
            failed += 1
            typer.echo(
                f"{what} failed after {elapsed:.1f} s (order {outcome.order_id}): {outcome.reason}"
            )
    if failed:
        raise DishesFailed(f"{failed} of {len(placed)} dishes failed")


@app.command()
def status(
    order_id: Annotated[str, typer.Argument(help="The id printed when the order was placed.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Show where an order stands: pending, preparing, retrying, ready or failed."""
    from waiter.client import order_status

    report = order_status(order_id.strip())
    if as_json:
        typer.echo(json.dumps(report.__dict__, indent=2, sort_keys=True))
        return
    details = report.details or {}
    lines = [
        ("order", report.order_id),
        ("table", report.table),
        ("dish", report.dish),
        ("note", report.note),
        ("status", report.status),
        ("reason", report.reason),
        ("attempts", report.attempts or ""),
        ("worker", report.worker),
        ("ordered", _clock(details.get("ordered_at"))),
        ("started", _clock(details.get("started_at"))),
        ("ready", _clock(details.get("ready_at"))),
        ("cooked", f"{details['cook_seconds']:.1f} s" if "cook_seconds" in details else ""),
    ]
    for label, value in lines:
        if value not in ("", None):
            typer.echo(f"{label + ':':<10}{value}")


@app.command()
def menu() -> None:
    """Show the dishes, their station, cooking time and time limits."""
    from rich.console import Console
    from rich.table import Table

    table = Table("Dish", "Station", "Cooking time", "Soft limit", "Hard limit")
    for dish in load_menu().dishes:
        shortest, longest = dish.cook_seconds
        table.add_row(
            dish.name,
            dish.station,
            f"{shortest:g}-{longest:g} s",
            f"{dish.soft_limit:g} s",
            f"{dish.hard_limit:g} s",
        )
    Console().print(table)


def _orders_from_arguments(
    table: int | None, dishes: list[str], quantity: int, note: str | None, file: Path | None
) -> list[Order]:
    rules = Rules(load_menu(), load_settings().tables)
    ordered_at = time.time()
    if file is not None:
        if table is not None or dishes or note is not None or quantity != 1:
            raise BadInput("--file cannot be combined with --table, --dish, --quantity or --note")
        from waiter.batch import read_batch

        return read_batch(file, rules, ordered_at)
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
