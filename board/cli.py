"""The `board` command: serve the kitchen display on BOARD_ADDRESS:BOARD_PORT (127.0.0.1:5600)."""

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from typing import NoReturn

import tornado.httpserver
import tornado.netutil

from board.config import BoardConfig, display_url, read_config
from restaurant.exceptions import ConfigError, MenuError

log = logging.getLogger("board")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="board",
        description="Serve the kitchen display: every station's dishes, the pass, the speed "
        "of service, live from the ledger in Redis.",
        epilog="Environment: BOARD_ADDRESS (127.0.0.1), BOARD_PORT (5600), BOARD_BASIC_AUTH "
        "(user:password, needed for any address but loopback), REDIS_URL / RESULT_BACKEND.",
    )
    parser.add_argument("--host", help="address to listen on (default: BOARD_ADDRESS)")
    parser.add_argument("--port", type=int, help="port to listen on (default: BOARD_PORT)")
    return parser.parse_args(argv)


def fail(message: str) -> NoReturn:
    """Say what is wrong in one line and exit with status 2."""
    print(f"board: error: {message}", file=sys.stderr)  # noqa: T201
    raise SystemExit(2)


async def serve(config: BoardConfig) -> None:
    """Listen and serve until SIGTERM or SIGINT."""
    from board.app import make_app  # noqa: PLC0415  (after the settings are known to be good)

    app = make_app(config)
    try:
        sockets = tornado.netutil.bind_sockets(config.port, config.host or None)
    except OSError as exc:
        fail(f"cannot listen on {display_url(config.host, config.port)}: {exc.strerror}")
    server = tornado.httpserver.HTTPServer(app, xheaders=False, idle_connection_timeout=60)
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    log.info("Board listening on %s", display_url(config.host or "0.0.0.0", port))  # noqa: S104
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.stop()
    # Open streams end now: their pages come back (to this board restarted, or another).
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server.close_all_connections(), 5)
    log.info("Board stopped")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `board` console script."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
    try:
        config = read_config(args.host, args.port)
        from board.kitchen import station_limits  # noqa: PLC0415

        station_limits()  # a broken menu is said now, not on the first page
    except (ConfigError, MenuError) as exc:
        fail(str(exc))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config))
