"""Redis Sentinel URLs: `sentinel://host:port;sentinel://host:port;sentinel://host:port/<db>`.

Every part of the restaurant follows the master the sentinels name: Celery's broker and result
backend, the ledger, pub/sub, the waiter's direct path, the scheduler and Flower. The URL lists
the sentinels; the database number and the master's password may be written on any of its
parts (Celery's documentation puts them on each, the short form on the last). kombu and Celery
read them from the first part only, so `canonical()` writes them on every part.
"""

import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, unquote, urlsplit

from restaurant.env import env_str
from restaurant.exceptions import ConfigError

SCHEME: Final = "sentinel://"
#: A sentinel's port when the URL leaves it out.
DEFAULT_PORT: Final = 26379


@dataclass(frozen=True)
class SentinelURL:
    """The sentinels to ask, and which database of the master they name, with what password."""

    sentinels: tuple[tuple[str, int], ...]
    db: int
    password: str | None = None
    username: str | None = None

    def canonical(self) -> str:
        """The URL with the database and credentials on every part, as kombu and Celery read it."""
        auth = ""
        if self.password is not None:
            auth = f"{quote(self.username or '', safe='')}:{quote(self.password, safe='')}@"
        return ";".join(f"{SCHEME}{auth}{host}:{port}/{self.db}" for host, port in self.sentinels)


def is_sentinel(url: str) -> bool:
    """Whether a Redis URL names sentinels rather than a server."""
    return url.startswith(SCHEME)


def parse(url: str) -> SentinelURL:
    """Read a `sentinel://` URL; ConfigError, naming the problem, if it is not one we can use."""
    sentinels: list[tuple[str, int]] = []
    dbs: set[int] = set()
    passwords: set[str] = set()
    usernames: set[str] = set()
    for part in (chunk.strip() for chunk in url.split(";")):
        if not part:
            continue
        if not is_sentinel(part):
            raise ConfigError(f"every part of a Sentinel URL must start with {SCHEME}: {part!r}")
        parsed = urlsplit(part)
        try:
            port = parsed.port or DEFAULT_PORT
        except ValueError:
            raise ConfigError(f"bad port in the Sentinel URL part {_masked(part)!r}") from None
        if not parsed.hostname:
            raise ConfigError(f"no host in the Sentinel URL part {_masked(part)!r}")
        sentinels.append((parsed.hostname, port))
        path = parsed.path.strip("/")
        if path:
            if not path.isdigit():
                raise ConfigError(f"the database in a Sentinel URL must be a number, not {path!r}")
            dbs.add(int(path))
        if parsed.password is not None:
            passwords.add(unquote(parsed.password))
        if parsed.username:
            usernames.add(unquote(parsed.username))
    if not sentinels:
        raise ConfigError("a Sentinel URL must name at least one sentinel")
    for what, values in (("database", dbs), ("password", passwords), ("user", usernames)):
        if len(values) > 1:
            raise ConfigError(f"the parts of the Sentinel URL name different {what}s")
    return SentinelURL(
        tuple(sentinels),
        dbs.pop() if dbs else 0,
        passwords.pop() if passwords else None,
        usernames.pop() if usernames else None,
    )


def canonical(url: str) -> str:
    """A Sentinel URL in the form kombu and Celery read; any other URL as it is."""
    return parse(url).canonical() if is_sentinel(url) else url


def master_name() -> str:
    """The name under which the sentinels know the master (REDIS_SENTINEL_MASTER)."""
    return env_str("REDIS_SENTINEL_MASTER", "mymaster")


def sentinel_kwargs() -> dict[str, Any]:
    """What a client says to the sentinels themselves: their password, if they have one."""
    password = env_str("REDIS_SENTINEL_PASSWORD", "")
    return {"password": password} if password else {}


def transport_options() -> dict[str, Any]:
    """The options kombu's and Celery's Sentinel clients need beside the URL."""
    return {"master_name": master_name(), "sentinel_kwargs": sentinel_kwargs()}


def sanitized(url: str) -> str:
    """A Redis or Sentinel URL with its password masked, part by part."""
    return ";".join(_masked(part) for part in url.split(";"))


def _masked(part: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1**@", part)
