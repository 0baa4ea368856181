"""Flower for the kitchen: defaults from the environment, a start-up safety check, readable rows."""

import ast
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from restaurant.addresses import is_loopback
from restaurant.env import env_int, env_str
from restaurant.exceptions import ConfigError
from restaurant.names import PREPARE_DISH

#: Where Flower keeps its state between restarts, relative to the directory it starts in.
DEFAULT_STATE_FILE = ".run/flower/state"
#: Columns of Flower's Tasks page, most telling first: the order, how it ended and why.
DEFAULT_TASKS_COLUMNS = "uuid,state,kwargs,retries,exception,received,runtime,worker,name"
#: Flower saves its state this often (milliseconds), as well as when it stops.
DEFAULT_STATE_SAVE_INTERVAL = 60_000
_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}


def flower_defaults() -> dict[str, Any]:
    """Return the Flower options flowerconfig.py sets: each FLOWER_* variable, else our default.

    Flower applies FLOWER_* variables first and the config file after them, so the file must
    read the same variables for the environment to keep the upper hand.
    """
    return {
        "address": env_str("FLOWER_ADDRESS", "127.0.0.1"),
        "persistent": _flag("FLOWER_PERSISTENT", default=True),
        "db": env_str("FLOWER_DB", DEFAULT_STATE_FILE),
        "state_save_interval": env_int(
            "FLOWER_STATE_SAVE_INTERVAL", DEFAULT_STATE_SAVE_INTERVAL, minimum=0
        ),
        "tasks_columns": env_str("FLOWER_TASKS_COLUMNS", DEFAULT_TASKS_COLUMNS),
    }


def check_flower_options(options: Any, environ: Mapping[str, str]) -> None:
    """Raise ConfigError if these final Flower options would expose it or open its API."""
    if "FLOWER_UNAUTHENTICATED_API" in environ:
        raise ConfigError(
            "FLOWER_UNAUTHENTICATED_API is set, which would open Flower's API (it can start and "
            "revoke orders) to anyone: unset it and use FLOWER_BASIC_AUTH instead"
        )
    for entry in options.basic_auth or ():
        user, colon, password = str(entry).partition(":")
        if not (user and colon and password):
            raise ConfigError(
                "FLOWER_BASIC_AUTH must be user:password (several separated by commas), "
                "with neither part empty"
            )
    authenticated = bool(options.basic_auth or options.auth)
    if not authenticated and not options.unix_socket and not is_loopback(options.address):
        where = options.address or "every interface"
        raise ConfigError(
            f"Flower would listen on {where} without a password: set "
            "FLOWER_BASIC_AUTH=user:password, or listen on 127.0.0.1 (FLOWER_ADDRESS; "
            "flowerconfig.py sets it when Flower starts in the project directory)"
        )


def refuse_unsafe_flower(**_: object) -> None:
    """Celery's import_modules signal: when Flower starts, check its final options or exit.

    Flower sends it from its application's constructor, after the environment, the config file
    and the command line are all applied and before it listens, so the check sees what Flower
    will really do however the options were given. Other commands (the worker) pass through.
    """
    context = click.get_current_context(silent=True)
    if context is None or context.command.name != "flower":
        return
    from flower.options import options  # noqa: PLC0415  (only when Flower runs)

    try:
        check_flower_options(options, os.environ)
    except ConfigError as exc:
        raise SystemExit(f"flower: error: {exc}") from None
    if options.persistent:
        # The state file holds pickles: keep its folder to ourselves.
        Path(options.db).parent.mkdir(mode=0o700, parents=True, exist_ok=True)


def format_order(task: Any) -> Any:
    """Flower's format_task: show an order's arguments as `table=3, dish='Burger', note='...'`.

    Events carry the arguments as a Python repr. The time of the order is left out: Flower
    shows when it was sent and received. Anything that does not read back as the dictionary
    of an order is shown as it came.
    """
    if task.name != PREPARE_DISH or not isinstance(task.kwargs, str):
        return task
    try:
        fields = ast.literal_eval(task.kwargs)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return task
    if not isinstance(fields, dict) or "dish" not in fields or "table" not in fields:
        return task
    shown = {
        name: value for name, value in fields.items() if value is not None and name != "ordered_at"
    }
    task.kwargs = ", ".join(f"{name}={value!r}" for name, value in shown.items())
    return task


def _flag(name: str, *, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE | _FALSE:
        return raw in _TRUE
    raise ConfigError(f"{name} must be true or false, not {raw!r}")
