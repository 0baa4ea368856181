"""Errors about orders, shared by the waiter and the kitchen."""


class RestaurantError(Exception):
    """Base class for every error this project raises on purpose."""


class InvalidOrder(RestaurantError):
    """An order that can never be cooked as given: never retried."""


class MenuError(RestaurantError):
    """The menu file is missing or malformed."""


class OrderFailed(RestaurantError):
    """The kitchen gave up on an order; the message says why."""


class KitchenTrouble(RestaurantError):
    """A passing problem in the kitchen (a busy station, a missing ingredient): retried."""


class ConfigError(RestaurantError):
    """An environment variable holds a value this project cannot use."""


class OrderCancelled(RestaurantError):
    """The order was cancelled: the kitchen stops cooking it, or never starts."""


class NotReplicated(RestaurantError):
    """Redis took a write but too few replicas confirmed it in time (REDIS_WAIT_REPLICAS)."""
