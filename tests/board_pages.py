"""Pages of the board in a real headless Chromium, on a restaurant of their own.

Debian's Chromium is driven through Playwright as in the Flower test; no browser is downloaded.
Orders come from the real `waiter` and are cooked by a real worker. What the tests assert is the
page's text and when it changed (recorded in the page), never the board's private state.
"""

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import redis
from playwright.sync_api import Browser, Dialog, Page, expect

from tests.board_stack import BoardServer, wait_for
from tests.chromium import VIEWPORT
from tests.conftest import TEST_KITCHEN, run_waiter
from tools.redis_server import RedisServer
from tools.worker import KitchenWorker

TICKET = re.compile(r"^Ticket (\d+) for table (\d+): (.*)$", re.MULTILINE)
#: A dish whose name is an attempt at a script, on the test menu beside the shipped dishes.
SCRIPT_DISH = "<script>alert('dish')</script>"
HOSTILE_NOTE = "<img src=x onerror=alert(1)>"
#: Records, in the page, when each ticket first read READY and when it left the page.
RECORDER = """() => {
  const seen = (window.__seen = {ready: {}, gone: {}, shown: {}});
  const look = () => {
    const now = Date.now();
    const here = new Set();
    for (const card of document.querySelectorAll('article[aria-label^="Ticket "]')) {
      const number = card.getAttribute('aria-label').split(/[ ,]/)[1];
      here.add(number);
      seen.shown[number] = seen.shown[number] || now;
      if (card.innerText.includes('READY') && !seen.ready[number]) seen.ready[number] = now;
    }
    for (const number of Object.keys(seen.shown)) {
      if (!here.has(number) && !seen.gone[number]) seen.gone[number] = now;
    }
  };
  new MutationObserver(look).observe(document.body, {childList: true, subtree: true, characterData: true});
  look();
}"""
#: Each ticket on the page as text, timers left out (they tick apart on two pages).
CARDS = """() => [...document.querySelectorAll('article[aria-label^="Ticket "]')].map((card) => {
  const copy = card.cloneNode(true);
  copy.querySelectorAll('[role=timer], .age-label').forEach((node) => node.remove());
  const words = [...copy.querySelectorAll('span, p, li, button')].map((node) => node.textContent);
  return card.getAttribute('aria-label') + ': ' + words.join(' | ');
})"""


@dataclass
class Kitchen:
    """A restaurant of the test's own: Redis, a worker, the board."""

    env: dict[str, str]
    board: BoardServer
    client: redis.Redis

    def order(self, table: int, *dishes: str, options: tuple[str, ...] = ()) -> int:
        """Place one order with the real `waiter`; return its ticket's number."""
        args = [arg for dish in dishes for arg in ("-d", dish)]
        result = run_waiter(self.env, "order", "-t", str(table), *args, *options)
        assert result.returncode == 0, result.stdout + result.stderr
        found = TICKET.search(result.stdout)
        assert found, result.stdout
        return int(found[1])

    def waiter(self, *args: str) -> str:
        """Run a waiter command that must succeed; return what it printed."""
        result = run_waiter(self.env, *args)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def ticket(self, number: int) -> dict[str, Any]:
        """The ticket as the ledger holds it."""
        from restaurant.tickets import TicketBook

        found = TicketBook(self.client).find(number)
        assert found is not None, f"no ticket {number}"
        return found.to_dict()

    def wait_ready(self, number: int) -> dict[str, Any]:
        """Wait until the ticket is ready; return it."""
        return wait_for(
            lambda: (t := self.ticket(number))["status"] == "ready" and t, 30, f"{number} ready"
        )

    def wait_finished(self, number: int) -> None:
        """Wait until the ticket is ready or served."""
        wait_for(lambda: self.ticket(number)["status"] != "open", 30, f"{number} finished")

    def open_numbers(self) -> list[int]:
        """The numbers of the open and ready tickets, from the board's own API."""
        status, _, body = self.board.request("/api/tickets")
        assert status == 200
        return [int(t["number"]) for t in json.loads(body)["tickets"]]


@contextmanager
def kitchen_stack(workdir: Path) -> Iterator[Kitchen]:
    """Redis, a prefork worker and a board, on a menu with a hostile dish name and a fast-ageing
    stove."""
    menu = workdir / "menu.toml"
    shipped = resources.files("restaurant").joinpath("menu.toml").read_text(encoding="utf-8")
    hostile = f'\n[dishes."{SCRIPT_DISH}"]\nstation = "cold"\ncook_seconds = [1.0, 2.0]\n'
    hostile += "soft_limit = 8\nhard_limit = 12\n"
    # The stove's tickets age in seconds here (1.2 s to amber, 3 s to late).
    stove = "\n[stations.stove]\nwarn_after = 0.02\nlate_after = 0.05\n"
    menu.write_text(shipped + hostile + stove, encoding="utf-8")
    with ExitStack() as stack:
        server = stack.enter_context(RedisServer(None, workdir / "redis"))
        env = {**TEST_KITCHEN, "REDIS_URL": server.url, "KITCHEN_MENU": str(menu)}
        stack.enter_context(KitchenWorker(env, workdir / "worker.log", concurrency=4))
        board = stack.enter_context(BoardServer(env, workdir / "board.log"))
        client = stack.enter_context(redis.Redis.from_url(server.url))
        yield Kitchen(env, board, client)


@dataclass
class Screens:
    """Pages open on the board, with every dialog any of them opened."""

    browser: Browser
    kitchen: Kitchen
    dialogs: list[str]
    pages: list[Page]

    def _refuse(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: str) -> Page:
        """Open a board page and wait until it is live."""
        context = self.browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.on("dialog", self._refuse)
        page.goto(self.kitchen.board.url + path)
        expect(page.locator("#live")).to_have_text("● live")
        page.evaluate(RECORDER)
        self.pages.append(page)
        return page


@contextmanager
def screens_on(browser: Browser, kitchen: Kitchen) -> Iterator[Screens]:
    """Pages to open on the board, closed at the end."""
    opened = Screens(browser, kitchen, [], [])
    try:
        yield opened
    finally:
        for page in opened.pages:
            page.context.close()


def card(page: Page, number: int) -> Any:
    """The ticket's card on a page."""
    return page.get_by_role("article", name=re.compile(rf"^Ticket {number}, table \d+$"))


def seen(page: Page, what: str, number: int) -> float | None:
    """When (seconds since the epoch) the page first showed the ticket ready, or lost it."""
    moment = page.evaluate(f"() => window.__seen.{what}[{json.dumps(str(number))}] || null")
    return None if moment is None else float(moment) / 1000
