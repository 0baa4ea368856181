"""The board's pages in a real Chromium: stations and the pass through a ticket, the bump bar,
`waiter serve`, hostile text, held courses and voids, ageing, the speed page, screenshots."""

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.board_pages import (
    HOSTILE_NOTE,
    SCRIPT_DISH,
    Kitchen,
    Screens,
    card,
    kitchen_stack,
    screens_on,
    seen,
)
from tests.chromium import chromium

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def kitchen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kitchen]:
    """A restaurant and its board for this module."""
    with kitchen_stack(tmp_path_factory.mktemp("board-browser")) as running:
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


def test_stations_and_the_pass_through_one_ticket(screens: Screens, kitchen: Kitchen) -> None:
    pasta = screens.open("/station/pasta")
    cold = screens.open("/station/cold")
    everything = screens.open("/")
    the_pass = screens.open("/pass")

    number = kitchen.order(21, "Pasta", "Risotto", "Salad")

    expect(card(pasta, number)).to_contain_text("Pasta")
    expect(card(pasta, number)).to_contain_text("Risotto")
    expect(card(pasta, number)).not_to_contain_text("Salad")
    expect(card(cold, number)).to_contain_text("Salad")
    expect(card(cold, number)).not_to_contain_text("Pasta")
    expect(card(cold, number)).not_to_contain_text("Risotto")
    expect(card(everything, number)).to_contain_text("Table 21")
    ready_at = float(kitchen.wait_ready(number)["ready_at"])
    expect(card(the_pass, number)).to_contain_text("READY")
    shown = seen(the_pass, "ready", number)
    assert shown is not None and shown - ready_at < 1.0, shown and shown - ready_at

    # The bump bar: the number's digits, then Enter.
    the_pass.keyboard.type(str(number))
    expect(the_pass.locator("#entry-number")).to_have_text(str(number))
    the_pass.keyboard.press("Enter")
    expect(the_pass.get_by_role("alert")).to_have_text(f"Ticket {number} served")
    served_at = float(kitchen.ticket(number)["served_at"])
    for page in (pasta, cold, everything, the_pass):
        expect(card(page, number)).to_have_count(0)
        gone = seen(page, "gone", number)
        assert gone is not None, page.url
        assert gone - served_at < 1.0, (page.url, gone - served_at)
    expect(
        the_pass.get_by_role("listitem", name=f"Served ticket {number}, table 21")
    ).to_be_visible()

    # Served again, by hand: refused with the ledger's one line, shown on the page.
    the_pass.keyboard.type(str(number))
    the_pass.keyboard.press("Enter")
    expect(the_pass.get_by_role("alert")).to_contain_text(f"ticket {number} was already served")
    # R recalls it: back on the pass, ready.
    the_pass.keyboard.press("r")
    expect(card(the_pass, number)).to_contain_text("READY")
    the_pass.keyboard.press("Escape")
    expect(the_pass.locator("#entry-number")).to_have_text("—")


def test_waiter_serve_clears_every_page(screens: Screens, kitchen: Kitchen) -> None:
    pages = [screens.open(path) for path in ("/", "/pass", "/station/grill")]
    number = kitchen.order(22, "Burger", "Salad")  # the grill is busy twice, then fine
    kitchen.wait_ready(number)
    for page in pages:
        expect(card(page, number)).to_be_visible()

    kitchen.waiter("serve", str(number))
    served_at = float(kitchen.ticket(number)["served_at"])

    for page in pages:
        expect(card(page, number)).to_have_count(0)
        gone = seen(page, "gone", number)
        assert gone is not None and gone - served_at < 1.0


def test_hostile_text_is_shown_as_text(screens: Screens, kitchen: Kitchen) -> None:
    requests: list[str] = []
    page = screens.open("/")
    page.on("request", lambda request: requests.append(request.url))

    number = kitchen.order(23, "Pasta", SCRIPT_DISH, options=("--note", HOSTILE_NOTE))

    ticket = card(page, number)
    expect(ticket).to_contain_text(SCRIPT_DISH)
    expect(ticket).to_contain_text(HOSTILE_NOTE)
    station = screens.open("/station/cold")
    expect(card(station, number)).to_contain_text(SCRIPT_DISH)
    time.sleep(0.5)
    assert screens.dialogs == []
    assert not [url for url in requests if url.endswith("/x")]
    assert page.locator("img").count() == 0


def test_held_course_fired_and_a_dish_voided_from_the_pass(
    screens: Screens, kitchen: Kitchen
) -> None:
    the_pass = screens.open("/pass")
    number = kitchen.order(24, "Salad", options=("--course", "2", "--hold"))
    ticket = card(the_pass, number)
    expect(ticket).to_contain_text("held: course 2")

    ticket.get_by_role("button", name="Fire course 2").click()
    expect(the_pass.get_by_role("alert")).to_have_text("Course 2 of table 24 fired")
    expect(ticket).to_contain_text("READY")

    other = kitchen.order(25, "Risotto", options=("--course", "3", "--hold"))
    void = card(the_pass, other).get_by_role("button", name="Void")
    void.click()
    confirm = card(the_pass, other).get_by_role("button", name="Confirm void?")
    expect(confirm).to_be_visible()
    confirm.click()
    expect(card(the_pass, other)).to_contain_text("cancelled")
    assert screens.dialogs == []


def test_a_ticket_ages_in_words_as_well_as_colour(screens: Screens, kitchen: Kitchen) -> None:
    page = screens.open("/station/stove")
    number = kitchen.order(26, "Soup", options=("--course", "2", "--hold"))  # waits: it ages
    ticket = card(page, number)
    expect(ticket).to_contain_text("running late")
    expect(ticket).to_contain_text(re.compile(r"LATE \+0:0\d"), timeout=10_000)
    expect(ticket.get_by_role("timer")).to_have_text(re.compile(r"^0:0\d$"))


def test_the_speed_page_draws_its_charts_on_the_server(screens: Screens, kitchen: Kitchen) -> None:
    requests: list[str] = []
    page = screens.open("/speed")
    page.on("request", lambda request: requests.append(request.url))
    page.reload()
    expect(page.get_by_role("img", name="Tickets per quarter hour today")).to_be_visible()
    expect(page.get_by_role("table")).to_contain_text("pasta")
    assert all(url.startswith(kitchen.board.url) for url in requests)
    status, headers, body = kitchen.board.request("/speed/quarters.svg")
    assert status == 200 and headers["Content-Type"].startswith("image/svg+xml")
    assert body.startswith(b"<svg") and b"<script" not in body


def test_screenshots(screens: Screens, kitchen: Kitchen, tmp_path: Path) -> None:
    """The pass and a station page, for the README (BOARD_SCREENSHOTS names a folder)."""
    folder = Path(os.environ.get("BOARD_SCREENSHOTS") or tmp_path)
    served = kitchen.order(43, "Salad")
    kitchen.wait_ready(served)
    kitchen.waiter("serve", str(served))
    kitchen.order(41, "Pasta", "Burger", options=("--note", "no cheese"))
    held = kitchen.order(42, "Salad", "Tiramisu")
    kitchen.order(42, "Risotto", "Steak", options=("--course", "2", "--hold"))
    kitchen.waiter("order", "--ticket", str(held), "--dish", "Pasta", "--rush")
    for path, name in (("/pass", "board-pass.png"), ("/station/pasta", "board-station.png")):
        page = screens.open(path)
        page.wait_for_timeout(1500)
        page.screenshot(path=folder / name, full_page=True)
        assert (folder / name).read_bytes().startswith(b"\x89PNG")
