"""A real headless Chromium logs in to Flower and finds the placed orders on its Tasks page.

The system's Chromium (Debian's `chromium`) is driven by Playwright; no browser is downloaded.
The test saves a screenshot of the Tasks page (to TASKS_SCREENSHOT if set: `make screenshot`).
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Error, Page, expect

from tests.chromium import VIEWPORT, chromium
from tests.conftest import run_waiter
from tests.flower_stack import AUTH, Monitored, monitored_restaurant

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitored]:
    """The restaurant and its Flower, with a few more orders so the page looks like service."""
    with monitored_restaurant(tmp_path_factory.mktemp("flower-browser")) as running:
        more = ["order", "-t", "2", "-d", "Salad", "-d", "Tiramisu", "-d", "Soup", "--wait"]
        result = run_waiter(running.env, *more, "--note", "birthday")
        assert result.returncode == 4, result.stdout + result.stderr  # the Soup is too slow
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium from the system, with a fresh temporary profile; fails if it cannot."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page logged in to Flower with the manager's password (HTTP basic authentication)."""
    user, password = AUTH
    context = browser.new_context(
        http_credentials={"username": user, "password": password}, viewport=VIEWPORT
    )
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_without_the_password_the_browser_is_refused(
    browser: Browser, monitored: Monitored
) -> None:
    context = browser.new_context()
    statuses: list[int] = []
    try:
        page = context.new_page()
        page.on("response", lambda response: statuses.append(response.status))
        # Chromium gets Flower's 401 and, with no one to ask for a password, gives up.
        with pytest.raises(Error, match="ERR_INVALID_AUTH_CREDENTIALS"):
            page.goto(monitored.flower.url("/tasks"))
    finally:
        context.close()
    assert statuses == [401]


def test_the_tasks_page_lists_the_orders(page: Page, monitored: Monitored, tmp_path: Path) -> None:
    monitored.final_tasks(list(monitored.orders.values()))

    response = page.goto(monitored.flower.url("/tasks"))

    assert response is not None and response.status == 200
    table = page.locator("#tasks-table")
    for dish, order_id in monitored.orders.items():
        row = table.locator("tbody tr", has_text=order_id)
        expect(row).to_contain_text(f"dish='{dish}'")
        expect(row).to_contain_text("table=7")
    steak = table.locator("tbody tr", has_text=monitored.orders["Steak"])
    expect(steak).to_contain_text("FAILURE")
    expect(steak).to_contain_text("gave up after 4 attempts: ran short of an ingredient for Steak")
    burger = table.locator("tbody tr", has_text=monitored.orders["Burger"])
    expect(burger).to_contain_text("SUCCESS")
    expect(burger).to_contain_text("the grill station is busy")
    screenshot = Path(os.environ.get("TASKS_SCREENSHOT") or tmp_path / "flower-tasks.png")
    page.screenshot(path=screenshot)
    assert screenshot.read_bytes().startswith(b"\x89PNG")


def test_an_order_page_says_why_it_failed(page: Page, monitored: Monitored) -> None:
    order_id = monitored.orders["Steak"]

    response = page.goto(monitored.flower.url(f"/task/{order_id}"))

    assert response is not None and response.status == 200
    body = page.locator("body")
    expect(body).to_contain_text(order_id)
    expect(body).to_contain_text("dish='Steak'")
    expect(body).to_contain_text("OrderFailed('gave up after 4 attempts")
