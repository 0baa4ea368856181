"""celeryconfig: safe defaults, values from the environment, and checks on bad values."""

import importlib
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from kitchen.celery import check_visibility_timeout
from kitchen.recipes import Kitchen
from restaurant.exceptions import ConfigError
from restaurant.menu import load_menu


@pytest.fixture(autouse=True)
def _restore_config() -> Iterator[None]:
    # Set up before monkeypatch, so torn down after it: reload with the environment restored.
    yield
    fresh_config()


def fresh_config() -> ModuleType:
    import celeryconfig

    return importlib.reload(celeryconfig)


def test_only_json_is_accepted_anywhere() -> None:
    config = fresh_config()

    assert config.accept_content == ["json"]
    assert config.result_accept_content == ["json"]
    assert config.task_serializer == config.result_serializer == "json"


def test_delivery_settings() -> None:
    config = fresh_config()

    assert config.task_acks_late is True
    assert config.task_reject_on_worker_lost is True
    assert config.worker_prefetch_multiplier == 1
    assert config.worker_send_task_events is True and config.task_send_sent_event is True
    timeout = config.visibility_timeout
    assert config.broker_transport_options["visibility_timeout"] == timeout
    assert config.result_backend_transport_options["visibility_timeout"] == timeout


def test_urls_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://example:1/3")
    monkeypatch.setenv("RESULT_BACKEND", "redis://example:2/4")

    config = fresh_config()

    assert config.broker_url == "redis://example:1/3"
    assert config.result_backend == "redis://example:2/4"


def test_a_bad_number_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISIBILITY_TIMEOUT", "soon")

    with pytest.raises(ConfigError, match="VISIBILITY_TIMEOUT must be a whole number, not 'soon'"):
        fresh_config()


def test_the_default_visibility_timeout_outlasts_any_dish_and_retry() -> None:
    config = fresh_config()
    kitchen = Kitchen(load_menu())

    check_visibility_timeout(kitchen, config.visibility_timeout, config.kitchen_retry_backoff_max)
    assert (
        config.visibility_timeout > kitchen.longest_limits().hard + config.kitchen_retry_backoff_max
    )


def test_a_visibility_timeout_too_short_is_refused() -> None:
    slow_kitchen = Kitchen(load_menu(), speed=0.1)  # Steak's 30 s hard limit becomes 300 s

    with pytest.raises(ConfigError, match="must exceed the longest hard time limit"):
        check_visibility_timeout(slow_kitchen, 300, 30)


def test_the_worker_refuses_to_start_with_a_short_visibility_timeout() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import kitchen.celery"],
        env={"VISIBILITY_TIMEOUT": "10", "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode != 0
    assert "VISIBILITY_TIMEOUT is 10 s but must exceed" in result.stderr


def test_the_settings_print_without_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "celeryconfig"],
        env={"REDIS_URL": "redis://:hunter2@127.0.0.1:1/0", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )

    assert "broker_url = 'redis://:**@127.0.0.1:1/0'" in result.stdout
    assert "hunter2" not in result.stdout
