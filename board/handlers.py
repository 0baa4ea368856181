"""The pages (one class each) and the JSON API beside them."""

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import tornado.web

from board import charts
from board.kitchen import ActionFailed, Kitchen, station_limits
from board.security import Guarded
from restaurant.speed import day_start

T = TypeVar("T")


class KitchenHandler(Guarded):
    """A handler that reads or acts on the kitchen, in a thread (redis-py and Celery block)."""

    def initialize(self, kitchen: Kitchen) -> None:
        """The kitchen this board shows."""
        self.kitchen = kitchen

    async def blocking(self, call: Callable[..., T], *args: Any) -> T:
        """Run a blocking call in the default thread pool."""
        return await asyncio.get_running_loop().run_in_executor(None, call, *args)

    async def answer(self, call: Callable[..., Any], *args: Any) -> None:
        """Answer with the call's result as JSON, or its one-line error and status."""
        try:
            result = await self.blocking(call, *args)
        except ActionFailed as exc:
            self.refuse(exc.status, str(exc))
            return
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(result))


class Page(KitchenHandler):
    """A page of the board: the frame, the settings for board.js in data- attributes."""

    #: Which view board.js draws: "all", "station", "pass" or "speed".
    view = "all"

    def render_page(self, template: str, title: str, station: str = "", **extra: Any) -> None:
        """Render a page with the menu's stations and their ageing limits."""
        limits = station_limits()
        config = {
            "view": self.view,
            "station": station,
            "limits": {name: {"warn": lim.warn, "late": lim.late} for name, lim in limits.items()},
            "recall": self.kitchen_recall_window(),
            "now": time.time(),
        }
        self.set_header("Cache-Control", "no-store")
        self.render(
            template,
            title=title,
            view=self.view,
            station=station,
            stations=list(limits),
            config=json.dumps(config),
            **extra,
        )

    def kitchen_recall_window(self) -> float:
        """The recall window, or the default when the ticket book cannot be read yet."""
        try:
            return self.kitchen.recall_window
        except Exception:  # the page still draws; its stream will say what is wrong
            return 600.0


class AllTickets(Page):
    """GET /: every open ticket."""

    view = "all"

    def get(self) -> None:
        """Every open ticket, oldest first."""
        self.render_page("tickets.html", "All tickets")


class StationPage(Page):
    """GET /station/<name>: one station's dishes, rush first."""

    view = "station"

    def get(self, name: str) -> None:
        """The station's page, or 404 for a station the menu does not have."""
        if name not in station_limits():
            raise tornado.web.HTTPError(404, "no station %s on the menu", name)
        self.render_page("tickets.html", f"Station: {name}", station=name)


class PassPage(Page):
    """GET /pass: tickets coming together, serve and recall, fire held courses."""

    view = "pass"

    def get(self) -> None:
        """The pass."""
        self.render_page("pass.html", "The pass")


class SpeedPage(Page):
    """GET /speed: speed of service today, as server-drawn SVG charts and a table."""

    view = "speed"

    async def get(self) -> None:
        """Today's figures per station."""
        now = time.time()
        try:
            figures = await self.blocking(self.kitchen.speed, day_start(now), now)
            hour = await self.blocking(self.kitchen.last_hour)
        except ActionFailed as exc:
            figures, hour, problem = {}, {}, str(exc)
        else:
            problem = ""
        rows = [charts.row_of(name, figures.get(name), hour.get(name)) for name in station_limits()]
        self.render_page("speed.html", "Speed of service", rows=rows, problem=problem)


class SpeedChart(KitchenHandler):
    """GET /speed/<chart>.svg: one chart, drawn on the server with no script and no network."""

    async def get(self, chart: str) -> None:
        """The chart of tickets per quarter hour, or of ticket times per station."""
        now = time.time()
        start = day_start(now)
        try:
            if chart == "quarters":
                points = await self.blocking(self.kitchen.quarters, now)
                svg = charts.quarters_chart(points, start)
            elif chart == "stations":
                figures = await self.blocking(self.kitchen.speed, start, now)
                svg = charts.stations_chart(
                    [figures.get(name) or {"station": name} for name in station_limits()]
                )
            else:
                raise tornado.web.HTTPError(404, "no chart %s", chart)
        except ActionFailed as exc:
            svg = charts.message_chart(str(exc))
        self.set_header("Content-Type", "image/svg+xml; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(svg)


class TicketsApi(KitchenHandler):
    """GET /api/tickets: the open tickets and their dishes, as JSON."""

    async def get(self) -> None:
        """Open and ready tickets, oldest first."""
        await self.answer(self.kitchen.open_tickets)


class SpeedApi(KitchenHandler):
    """GET /api/speed: each station's average cook and ticket time over the last hour."""

    async def get(self) -> None:
        """The last hour's figures per station."""
        await self.answer(lambda: {"window": 3600, "stations": self.kitchen.last_hour()})


class TicketAction(KitchenHandler):
    """POST /api/tickets/<number>/(serve|recall): `waiter serve` and `waiter recall`."""

    async def post(self, number: str, action: str) -> None:
        """Serve or recall the ticket with this number."""
        act = self.kitchen.serve if action == "serve" else self.kitchen.recall
        await self.answer(act, int(number))


class FireCourse(KitchenHandler):
    """POST /api/courses/<table>/<course>/fire: `waiter fire`."""

    async def post(self, table: str, course: str) -> None:
        """Send the table's held course to the kitchen."""
        await self.answer(self.kitchen.fire, int(table), int(course))


class CancelOrder(KitchenHandler):
    """POST /api/orders/<order id>/cancel: `waiter cancel`."""

    async def post(self, order_id: str) -> None:
        """Cancel one dish."""
        await self.answer(self.kitchen.cancel, order_id)


class NotFound(Guarded):
    """Any other path: 404 (after the password, so that nothing is told without it)."""

    def prepare(self) -> None:
        """Refuse, as JSON."""
        super().prepare()
        if not self._finished:
            self.refuse(404, f"no page {self.request.path}")
