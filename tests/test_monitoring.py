"""kitchen.monitoring: Flower's defaults, the exposure check, and how an order's row reads."""

from types import SimpleNamespace

import pytest
from celery.events.state import Task

from kitchen.monitoring import (
    DEFAULT_STATE_FILE,
    DEFAULT_TASKS_COLUMNS,
    check_flower_options,
    flower_defaults,
    format_order,
)
from restaurant.addresses import is_loopback
from restaurant.exceptions import ConfigError

ANY = "0.0.0.0"  # noqa: S104


def options(address: str = "127.0.0.1", **overrides: object) -> SimpleNamespace:
    """Flower's options as the check reads them: no authentication, TCP."""
    defaults: dict[str, object] = {"basic_auth": None, "auth": "", "unix_socket": ""}
    return SimpleNamespace(address=address, **{**defaults, **overrides})


def test_defaults_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ADDRESS", "PERSISTENT", "DB", "STATE_SAVE_INTERVAL", "TASKS_COLUMNS"):
        monkeypatch.delenv(f"FLOWER_{name}", raising=False)

    assert flower_defaults() == {
        "address": "127.0.0.1",
        "persistent": True,
        "db": DEFAULT_STATE_FILE,
        "state_save_interval": 60_000,
        "tasks_columns": DEFAULT_TASKS_COLUMNS,
    }


def test_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWER_ADDRESS", "::1")
    monkeypatch.setenv("FLOWER_PERSISTENT", "off")
    monkeypatch.setenv("FLOWER_DB", "/var/lib/flower/state")
    monkeypatch.setenv("FLOWER_STATE_SAVE_INTERVAL", "0")
    monkeypatch.setenv("FLOWER_TASKS_COLUMNS", "name,uuid,state")

    assert flower_defaults() == {
        "address": "::1",
        "persistent": False,
        "db": "/var/lib/flower/state",
        "state_save_interval": 0,
        "tasks_columns": "name,uuid,state",
    }


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FLOWER_PERSISTENT", "maybe", "FLOWER_PERSISTENT must be true or false"),
        ("FLOWER_STATE_SAVE_INTERVAL", "soon", "FLOWER_STATE_SAVE_INTERVAL must be a whole"),
    ],
)
def test_bad_values_are_clear_errors(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError, match=message):
        flower_defaults()


@pytest.mark.parametrize("address", ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"])
def test_loopback_addresses(address: str) -> None:
    assert is_loopback(address)


@pytest.mark.parametrize("address", ["", ANY, "::", "192.168.1.5", "10.0.0.1", "kitchen.example"])
def test_other_addresses(address: str) -> None:
    assert not is_loopback(address)


@pytest.mark.parametrize(
    "settings",
    [
        options(),
        options("::1"),
        options(ANY, basic_auth=["manager:pw"]),
        options("", basic_auth=["a:1", "b:2"]),
        options(ANY, auth=r".*@restaurant\.example"),
        options("", unix_socket="/run/flower.sock"),
    ],
    ids=["loopback", "ipv6-loopback", "any-with-password", "two-users", "oauth", "unix-socket"],
)
def test_safe_settings_pass(settings: SimpleNamespace) -> None:
    check_flower_options(settings, {})


@pytest.mark.parametrize(
    ("settings", "environ", "message"),
    [
        (options(ANY), {}, "Flower would listen on 0.0.0.0 without a password"),
        (options(""), {}, "Flower would listen on every interface without a password"),
        (options(basic_auth=["manager"]), {}, "FLOWER_BASIC_AUTH must be user:password"),
        (options(basic_auth=[":pw"]), {}, "FLOWER_BASIC_AUTH must be user:password"),
        (options(), {"FLOWER_UNAUTHENTICATED_API": "false"}, "FLOWER_UNAUTHENTICATED_API"),
        (
            options(basic_auth=["m:pw"]),
            {"FLOWER_UNAUTHENTICATED_API": "1"},
            "FLOWER_UNAUTHENTICATED_API",
        ),
    ],
    ids=["any", "every", "no-password", "no-user", "api-switch-present", "api-switch-with-auth"],
)
def test_exposed_settings_are_refused(
    settings: SimpleNamespace, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        check_flower_options(settings, environ)


def order_task(kwargs: str, name: str = "kitchen.prepare_dish") -> Task:
    """A task as Flower's event state holds it: arguments as the event's repr."""
    return Task(uuid="6f0c", name=name, kwargs=kwargs, args="()")


def test_an_order_reads_as_its_fields() -> None:
    task = order_task(
        "{'table': 3, 'dish': 'Burger', 'note': 'no onions', 'ordered_at': 1764435898.2134523}"
    )

    shown = format_order(task)

    assert shown.kwargs == "table=3, dish='Burger', note='no onions'"
    assert shown.name == "kitchen.prepare_dish"


def test_an_order_without_a_note_omits_it() -> None:
    task = order_task("{'table': 12, 'dish': 'Salad', 'note': None, 'ordered_at': 0}")

    assert format_order(task).kwargs == "table=12, dish='Salad'"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ("{'table': 3, 'dish': 'Burger'}", "another.task"),
        ("{'table': 3, 'dish': 'Burger', 'note': Ellipsis(", "kitchen.prepare_dish"),
        ("{'table': 3}", "kitchen.prepare_dish"),
        ("['table', 3]", "kitchen.prepare_dish"),
        ("__import__('os').system('true')", "kitchen.prepare_dish"),
    ],
    ids=["other-task", "cut-short", "no-dish", "not-a-dict", "not-a-literal"],
)
def test_anything_else_is_shown_as_it_came(kwargs: str, name: str) -> None:
    assert format_order(order_task(kwargs, name)).kwargs == kwargs
