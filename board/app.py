"""The board's tornado Application: its routes, templates and static files."""

from pathlib import Path
from typing import Any

import tornado.web

from board import handlers
from board.config import BoardConfig
from board.kitchen import Kitchen
from board.log_hub import LogHub
from board.redis_access import live_client
from board.security import GuardedStatic
from board.stream import EventStream
from waiter.conf import BrokerSettings, read_settings

HERE = Path(__file__).resolve().parent


def make_app(config: BoardConfig, conf: BrokerSettings | None = None) -> tornado.web.Application:
    """The board's application for `config`, on the ledger `conf` names (celeryconfig's)."""
    conf = conf or read_settings()
    kitchen = Kitchen(conf)
    live = live_client(conf)
    with_kitchen: dict[str, Any] = {"kitchen": kitchen}
    routes: list[Any] = [
        (r"/", handlers.AllTickets, with_kitchen),
        (r"/station/([a-z][a-z0-9_-]{0,31})", handlers.StationPage, with_kitchen),
        (r"/pass", handlers.PassPage, with_kitchen),
        (r"/speed", handlers.SpeedPage, with_kitchen),
        (r"/speed/([a-z]+)\.svg", handlers.SpeedChart, with_kitchen),
        (r"/events", EventStream, {"kitchen": kitchen, "live": live, "hub": LogHub(live)}),
        (r"/api/tickets", handlers.TicketsApi, with_kitchen),
        (r"/api/speed", handlers.SpeedApi, with_kitchen),
        (r"/api/tickets/(\d{1,9})/(serve|recall)", handlers.TicketAction, with_kitchen),
        (r"/api/courses/(\d{1,9})/(\d{1,4})/fire", handlers.FireCourse, with_kitchen),
        (r"/api/orders/([^/]{1,100})/cancel", handlers.CancelOrder, with_kitchen),
    ]
    return tornado.web.Application(
        routes,
        board_config=config,
        template_path=str(HERE / "templates"),
        static_path=str(HERE / "static"),
        static_handler_class=GuardedStatic,
        default_handler_class=handlers.NotFound,
        autoescape="xhtml_escape",
        compress_response=False,
        xsrf_cookies=False,  # POSTs are checked by Origin instead (board/security.py)
    )
