"""Reading a batch file of orders: `[{"table": 1, "dish": "Pasta"}, ...]`."""

import json
import sys
from pathlib import Path
from typing import Any

from restaurant.exceptions import InvalidOrder
from restaurant.orders import Rules, read_line
from waiter.exceptions import BadInput
from waiter.keys import KeyedOrder, check_key

#: Largest batch file read, so that a wrong file cannot eat the waiter's memory.
MAX_FILE_BYTES = 20 * 1024 * 1024
#: Most orders in one batch file.
MAX_BATCH = 100_000


def read_batch(path: Path, rules: Rules, ordered_at: float) -> list[KeyedOrder]:
    """Read and check every line of a batch file ('-' for stdin); raise BadInput on any problem.

    A line may carry an idempotency `key`: its portions are then placed under "<key>#1", ...
    """
    name = "stdin" if str(path) == "-" else str(path)
    data = _load_json(path, name)
    if not isinstance(data, list):
        raise BadInput(f"{name} must hold a JSON list of orders, not a {_json_type(data)}")
    if not data:
        raise BadInput(f"{name} holds no orders")
    orders: list[KeyedOrder] = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise BadInput(f"{name} item {number}: expected an object, not a {_json_type(item)}")
        try:
            line = read_line(item)
            key = None if line.key is None else check_key(line.key, f"{name} item {number}: key")
            portions = line.orders(rules, ordered_at)
            orders.extend(
                KeyedOrder(order, f"{key}#{portion}" if key else None)
                for portion, order in enumerate(portions, start=1)
            )
        except InvalidOrder as exc:
            raise BadInput(f"{name} item {number}: {exc}") from None
        if len(orders) > MAX_BATCH:
            raise BadInput(f"{name} holds more than {MAX_BATCH} orders; split it up")
    return orders


def _load_json(path: Path, name: str) -> Any:
    try:
        if str(path) == "-":
            raw = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        else:
            with path.open("rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise BadInput(f"cannot read {name}: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise BadInput(f"{name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"{name} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except UnicodeDecodeError:
        raise BadInput(f"{name} is not UTF-8 text") from None


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")
