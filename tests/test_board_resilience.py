"""The board's pages through a service: two pages stay identical over 30 tickets, and a board
killed (or its Redis connection killed) mid-service comes back with every change, none twice."""

import signal
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.board_pages import (
    CARDS,
    Kitchen,
    Screens,
    card,
    kitchen_stack,
    screens_on,
)
from tests.board_stack import kill_board_connections, wait_for
from tests.chromium import chromium

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def kitchen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kitchen]:
    """A restaurant and its board for this module."""
    with kitchen_stack(tmp_path_factory.mktemp("board-service")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium from the system."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def screens(browser: Browser, kitchen: Kitchen) -> Iterator[Screens]:
    """Pages opened by the test, closed after it."""
    with screens_on(browser, kitchen) as opened:
        yield opened


def test_two_pages_stay_identical_through_a_service(screens: Screens, kitchen: Kitchen) -> None:
    first = screens.open("/")
    numbers: list[int] = []
    second: Page | None = None
    for i in range(30):
        dishes = ("Pasta", "Salad") if i % 3 else ("Burger", "Steak")  # the Steak fails
        numbers.append(kitchen.order(1 + i, *dishes))
        if i == 9:
            second = screens.open("/")  # the second page starts mid-service, from a snapshot
        if i % 4 == 3:
            served = numbers[i - 3]
            kitchen.wait_ready(served)
            kitchen.waiter("serve", str(served))
    assert second is not None
    for number in numbers:
        kitchen.wait_finished(number)

    expected = sorted(kitchen.open_numbers())

    def settled() -> list[str] | None:
        texts = [first.evaluate(CARDS), second.evaluate(CARDS)]
        shown = [sorted(int(t.split()[1].rstrip(",")) for t in text) for text in texts]
        same = texts[0] == texts[1] and shown[0] == expected
        # A ticket's `ready` reaches each page by SSE a moment after the ledger records it.
        return texts[0] if same and all("READY" in text for text in texts[0]) else None

    cards = wait_for(settled, 10, "both pages to show the same open tickets")
    assert all("READY" in text for text in cards)
    assert len(cards) == len(set(cards))


def test_a_board_killed_mid_service_loses_nothing(screens: Screens, kitchen: Kitchen) -> None:
    pages = [screens.open("/"), screens.open("/pass")]
    before = kitchen.order(31, "Pasta")
    kitchen.wait_ready(before)
    for page in pages:
        expect(card(page, before)).to_contain_text("READY")

    kitchen.board.signal(signal.SIGKILL)
    for page in pages:
        expect(page.locator("#live")).to_have_text("reconnecting…")
    kitchen.waiter("serve", str(before))
    during = kitchen.order(32, "Salad", "Pasta")
    kitchen.wait_ready(during)
    kitchen.board.restart()

    for page in pages:
        expect(page.locator("#live")).to_have_text("● live")
        expect(card(page, before)).to_have_count(0)
        expect(card(page, during)).to_have_count(1)
        expect(card(page, during)).to_contain_text("READY")
        expect(card(page, during).get_by_text("Salad", exact=True)).to_have_count(1)
        expect(card(page, during).get_by_text("Pasta", exact=True)).to_have_count(1)
    the_pass = pages[1]
    expect(
        the_pass.get_by_role("listitem", name=f"Served ticket {before}, table 31")
    ).to_have_count(1)


def test_the_boards_redis_connection_killed_loses_nothing(
    screens: Screens, kitchen: Kitchen
) -> None:
    page = screens.open("/pass")
    page.evaluate("""() => { window.__states = [];
      new MutationObserver(() => window.__states.push(document.getElementById('live').textContent))
        .observe(document.getElementById('live'), {childList: true, characterData: true, subtree: true}); }""")

    assert kill_board_connections(kitchen.client) >= 1
    number = kitchen.order(33, "Pasta", "Salad")
    kitchen.wait_ready(number)

    expect(card(page, number)).to_contain_text("READY")
    expect(card(page, number).get_by_text("Pasta", exact=True)).to_have_count(1)
    expect(card(page, number).get_by_text("Salad", exact=True)).to_have_count(1)
    expect(page.locator("#live")).to_have_text("● live")
    assert "reconnecting…" in page.evaluate("() => window.__states")
