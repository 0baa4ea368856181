"""Errors the waiter reports to its user, each with its documented exit code."""

from typing import ClassVar


class WaiterError(Exception):
    """An error shown as one line on stderr; `exit_code` is what the program exits with."""

    exit_code: ClassVar[int] = 1


class BadInput(WaiterError):
    """The command line or the batch file asks for something that cannot be ordered."""

    exit_code = 2


class RedisUnavailable(WaiterError):
    """Redis could not be reached, or refused us (wrong password, wrong database)."""

    exit_code = 3


class DishesFailed(WaiterError):
    """Some of the dishes waited for failed in the kitchen."""

    exit_code = 4


class WaitTimedOut(WaiterError):
    """The dishes were not all done within --timeout."""

    exit_code = 5


class OrderNotFound(WaiterError):
    """No order with that id is known (never placed, or its record has expired)."""

    exit_code = 6


class BadConfiguration(WaiterError):
    """An environment variable or the menu file is unusable."""

    exit_code = 7


class AlreadyFinished(WaiterError):
    """The order is already ready, failed or cancelled: too late to cancel it."""

    exit_code = 8


class TicketNotFound(WaiterError):
    """No ticket has that number (never sent, or served longer ago than it is kept)."""

    exit_code = 9


class TicketWrongState(WaiterError):
    """The ticket cannot do that now: already served, not ready, not served, too late to recall."""

    exit_code = 10
