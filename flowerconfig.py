"""Flower's settings, read by `celery -A kitchen flower` started here (docs/monitoring.md).

Flower applies its FLOWER_* environment variables, then this file, then the command line; the
values below read the same variables, so the environment still wins over these defaults.
"""

from kitchen.monitoring import flower_defaults, format_order
from restaurant.exceptions import ConfigError

try:
    _defaults = flower_defaults()
except ConfigError as _error:
    raise SystemExit(f"flower: error: {_error}") from None

address = _defaults["address"]
persistent = _defaults["persistent"]
db = _defaults["db"]
state_save_interval = _defaults["state_save_interval"]
tasks_columns = _defaults["tasks_columns"]
format_task = format_order
