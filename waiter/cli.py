"""The `waiter` command: place orders with the kitchen and follow them."""

import os
import sys
from typing import Annotated, NoReturn

import typer

from restaurant.exceptions import ConfigError, InvalidOrder, MenuError
from waiter.commands import dead_letters, following, menu, ordering, tickets
from waiter.exceptions import BadConfiguration, BadInput, WaiterError

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"waiter {version('restaurant-orders')}")
        raise typer.Exit()


@app.callback()
def waiter(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Take orders to the kitchen and follow them until they are ready."""


# In this order in `waiter --help`.
app.command(epilog=ordering.ORDER_EXAMPLES)(ordering.order)
app.command(epilog=following.STATUS_EXAMPLES)(following.status)
app.command(epilog=following.ORDERS_EXAMPLES)(following.orders)
app.command(epilog=following.WATCH_EXAMPLES)(following.watch)
app.command(epilog=ordering.CANCEL_EXAMPLES)(ordering.cancel)
app.command(epilog=ordering.FIRE_EXAMPLES)(ordering.fire)
app.command(epilog=tickets.TICKETS_EXAMPLES)(tickets.tickets)
app.command(epilog=tickets.SERVE_EXAMPLES)(tickets.serve)
app.command(epilog=tickets.RECALL_EXAMPLES)(tickets.recall)
app.command(epilog=tickets.REPORT_EXAMPLES)(tickets.report)
app.command(epilog=dead_letters.FAILED_EXAMPLES)(dead_letters.failed)
app.command(epilog=dead_letters.RETRY_EXAMPLES)(dead_letters.retry)
app.command(epilog=menu.MENU_EXAMPLES)(menu.menu)


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
