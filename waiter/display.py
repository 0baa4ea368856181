"""What the commands print: stored text made inert, clock times, counts and rich tables."""

import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

#: Zero-width non-joiner and joiner: format characters that belong to ordinary text.
JOINERS = frozenset("\u200c\u200d")


def plain(value: object) -> str:
    """Stored text as inert text: control characters (a planted ESC or BEL) shown escaped.

    So are the invisible marks that reorder text (bidi overrides); joiners, which emoji and
    some scripts need, are kept.
    """
    return "".join(
        repr(char)[1:-1]
        if unicodedata.category(char).startswith("C") and char not in JOINERS
        else char
        for char in str(value)
    )


def clock(timestamp: object) -> str:
    """A timestamp as a time of day to the millisecond ('' when there is none)."""
    if not isinstance(timestamp, int | float):
        return ""
    return datetime.fromtimestamp(timestamp).strftime("%H:%M:%S.%f")[:-3]


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """A count with its noun: '1 dish', '2 dishes', '0 failed orders'."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


def console() -> "Console":
    """A rich console for tables: the terminal's width, or a wide one when piped."""
    from rich.console import Console  # noqa: PLC0415  (rich only when a table is shown)

    shown = Console()
    # Piped output is not cut to 80 columns: order ids stay whole for other programs.
    return shown if shown.is_terminal else Console(width=200)


def add_row(table: "Table", *cells: str) -> None:
    """Add a row of stored text, taken literally: no rich markup, no control characters."""
    from rich.text import Text  # noqa: PLC0415  (rich only when a table is shown)

    table.add_row(*(Text(plain(cell)) for cell in cells))
