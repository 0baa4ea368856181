"""The kitchen's Celery app: `celery -A kitchen worker` finds it here."""

from celery import Celery
from celery.signals import import_modules

from kitchen import liveness
from kitchen.current import get_kitchen
from kitchen.monitoring import refuse_unsafe_flower
from kitchen.queues import install as install_queues
from kitchen.recipes import Kitchen
from kitchen.transport import install as install_transport
from kitchen.versions import install as install_version_check
from restaurant.exceptions import ConfigError

# Before the app connects: kombu's Redis transport, with one client for its commands.
install_transport()
app = Celery("kitchen", include=["kitchen.tasks"])
app.config_from_object("celeryconfig")
# `celery -A kitchen flower` checks its final options here, before it listens.
import_modules.connect(refuse_unsafe_flower, sender=app)
# One queue per station (and one for its rush orders): `-Q grill` makes a grill-only cook.
install_queues(app, get_kitchen().menu)
# A worker says at start when Celery or kombu is outside the range it was tested with.
install_version_check()
# A worker beats in Redis; the others put a dead one's messages back in seconds.
liveness.install()


def check_visibility_timeout(
    kitchen: Kitchen, visibility_timeout: float, backoff_max: float
) -> None:
    """Refuse a visibility timeout that would let Redis redeliver a dish still in hand."""
    needed = kitchen.longest_limits().hard + backoff_max
    if visibility_timeout <= needed:
        raise ConfigError(
            f"VISIBILITY_TIMEOUT is {visibility_timeout:g} s but must exceed the longest hard "
            f"time limit plus the longest retry delay ({needed:g} s), or slow dishes are "
            "delivered twice"
        )


check_visibility_timeout(
    get_kitchen(), app.conf.visibility_timeout, app.conf.kitchen_retry_backoff_max
)
