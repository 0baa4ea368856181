"""The board's settings: where it listens and its password, checked before it starts."""

import os
from dataclasses import dataclass
from typing import Final

from restaurant.addresses import is_loopback
from restaurant.env import env_int, env_str
from restaurant.exceptions import ConfigError

DEFAULT_ADDRESS: Final = "127.0.0.1"
DEFAULT_PORT: Final = 5600


@dataclass(frozen=True)
class BoardConfig:
    """Where the board listens and who may look at it."""

    host: str
    port: int
    #: (user, password) from BOARD_BASIC_AUTH, or None: no password (loopback only).
    credentials: tuple[str, str] | None


def read_config(host: str | None = None, port: int | None = None) -> BoardConfig:
    """Read the command line's choices, else BOARD_ADDRESS, BOARD_PORT and BOARD_BASIC_AUTH.

    Raises ConfigError (one line) for a bad value, or for an address other machines can reach
    without a password.
    """
    address = host if host is not None else env_str("BOARD_ADDRESS", DEFAULT_ADDRESS)
    chosen = port if port is not None else env_int("BOARD_PORT", DEFAULT_PORT, maximum=65_535)
    if not 0 <= chosen <= 65_535:
        raise ConfigError(f"the port must be between 0 and 65535, not {chosen}")
    credentials = parse_credentials(os.environ.get("BOARD_BASIC_AUTH", ""))
    if credentials is None and not is_loopback(address):
        where = address or "every interface"
        raise ConfigError(
            f"the board would listen on {where} without a password: set "
            "BOARD_BASIC_AUTH=user:password, or listen on 127.0.0.1 (--host or BOARD_ADDRESS)"
        )
    return BoardConfig(address, chosen, credentials)


def parse_credentials(raw: str) -> tuple[str, str] | None:
    """Read BOARD_BASIC_AUTH (user:password, neither empty); None when it is unset or empty."""
    if not raw:
        return None
    user, colon, password = raw.partition(":")
    if not (user and colon and password):
        raise ConfigError("BOARD_BASIC_AUTH must be user:password, with neither part empty")
    return user, password


def display_url(host: str, port: int) -> str:
    """The board's URL as people type it (an IPv6 address in brackets)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"
