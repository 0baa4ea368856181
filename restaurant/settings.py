"""The restaurant's own settings (tables, menu, kitchen simulation), read from the environment."""

from dataclasses import dataclass
from pathlib import Path

from restaurant.env import env_float, env_int, env_str


@dataclass(frozen=True)
class Settings:
    """Everything about the restaurant that is not a Celery setting."""

    #: Tables are numbered 1 to this.
    tables: int
    #: A menu file to use instead of the one shipped in the package ('' for the shipped one).
    menu_path: Path | None
    #: Cooking times and time limits are divided by this: 10 makes the kitchen ten times faster.
    kitchen_speed: float
    #: Chance (0 to 1) that an attempt meets passing trouble: a busy station, a short ingredient.
    failure_rate: float
    #: Forced trouble for named dishes, e.g. "Soup=busy:2,Steak=stuck" (see kitchen/trouble.py).
    trouble: str
    #: Seconds a finished order stays in the ledger (open orders stay until they finish).
    retention: int
    #: How many orders the ledger's "recent" index keeps, newest first.
    recent_limit: int
    #: How many dead letters (orders failed for good) are kept, newest first.
    dead_letter_limit: int
    #: About how many of the newest events the event log keeps (what a board can catch up on).
    event_log_cap: int = 10_000
    #: Seconds after serving during which a ticket may be recalled.
    recall_window: float = 600.0


def load_settings() -> Settings:
    """Read the settings from the environment."""
    menu = env_str("KITCHEN_MENU", "")
    return Settings(
        tables=env_int("RESTAURANT_TABLES", 50, minimum=1, maximum=100_000),
        menu_path=Path(menu) if menu else None,
        kitchen_speed=env_float("KITCHEN_SPEED", 1.0, minimum=0.001, maximum=1_000_000),
        failure_rate=env_float("KITCHEN_FAILURE_RATE", 0.0, minimum=0.0, maximum=1.0),
        trouble=env_str("KITCHEN_TROUBLE", ""),
        retention=env_int("ORDER_RETENTION", 86_400, minimum=1),
        recent_limit=env_int("RECENT_ORDERS", 10_000, minimum=1, maximum=10_000_000),
        dead_letter_limit=env_int("DEAD_LETTERS", 10_000, minimum=1, maximum=10_000_000),
        event_log_cap=env_int("EVENT_LOG_CAP", 10_000, minimum=10, maximum=10_000_000),
        recall_window=env_float("TICKET_RECALL_WINDOW", 600.0, minimum=0.0, maximum=86_400 * 7),
    )
