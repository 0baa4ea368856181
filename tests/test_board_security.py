"""The board's safety: no exposed board without a password, the password everywhere, no
cross-site POST, safe headers, and only the board's own scripts on its pages."""

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.board_stack import PASSWORD, USER, BoardServer, basic
from tools.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["/", "/station/grill", "/pass", "/speed", "/api/tickets", "/api/speed", "/events",
         "/static/board.js", "/static/board.css", "/speed/quarters.svg", "/nowhere"]  # fmt: skip


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server for this module."""
    with RedisServer(None, tmp_path_factory.mktemp("board-safety-redis")) as server:
        yield server.url


@pytest.fixture(scope="module")
def exposed(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoardServer]:
    """A board listening on every interface, with a password."""
    log = tmp_path_factory.mktemp("board-exposed") / "board.log"
    env = {"REDIS_URL": redis_url}
    with BoardServer(env, log, host="0.0.0.0", auth=(USER, PASSWORD)) as board:  # noqa: S104
        yield board


@pytest.fixture(scope="module")
def local(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoardServer]:
    """A board on loopback without a password."""
    log = tmp_path_factory.mktemp("board-local") / "board.log"
    with BoardServer({"REDIS_URL": redis_url}, log) as board:
        yield board


def run_board(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m board` to see it refuse; it must not start."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BOARD_")}
    return subprocess.run(
        [sys.executable, "-m", "board", *args],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--host", "0.0.0.0"), {}),  # noqa: S104
        ((), {"BOARD_ADDRESS": "0.0.0.0"}),  # noqa: S104
        (("--host", ""), {}),
        (("--host", "0.0.0.0"), {"BOARD_BASIC_AUTH": "chef"}),  # noqa: S104
        (("--host", "0.0.0.0"), {"BOARD_BASIC_AUTH": ":secret"}),  # noqa: S104
    ],
)
def test_an_exposed_board_without_a_password_refuses_to_start(
    args: tuple[str, ...], env: dict[str, str]
) -> None:
    result = run_board(*args, "--port", str(free_port()), **env)

    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("board: error: ")
    assert "BOARD_BASIC_AUTH" in lines[0]
    assert "Traceback" not in result.stderr


def test_a_bad_port_is_one_line_too() -> None:
    result = run_board("--port", "70000")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "board: error: the port must be between 0 and 65535, not 70000"
    ]


def test_it_says_where_it_listens(exposed: BoardServer) -> None:
    assert f"Board listening on http://0.0.0.0:{exposed.port}" in exposed.log()


@pytest.mark.parametrize("path", PAGES)
def test_every_page_stream_and_file_needs_the_password(exposed: BoardServer, path: str) -> None:
    status, headers, _ = exposed.request(path, auth=False)
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Basic realm=")

    wrong = {"Authorization": basic(USER, "guess")}
    assert exposed.request(path, headers=wrong, auth=False)[0] == 401
    assert exposed.request(path, headers={"Authorization": "Bearer x"}, auth=False)[0] == 401


@pytest.mark.parametrize("path", ["/", "/pass", "/station/grill", "/speed", "/api/tickets",
                                  "/static/board.js", "/speed/stations.svg"])  # fmt: skip
def test_with_the_password_everything_answers(exposed: BoardServer, path: str) -> None:
    status, headers, _ = exposed.request(path)
    assert status == 200, path
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_actions_need_the_password_too(exposed: BoardServer) -> None:
    origin = {"Origin": exposed.url}
    for path in ("/api/tickets/1/serve", "/api/tickets/1/recall", "/api/courses/1/2/fire",
                 "/api/orders/3f1c/cancel"):  # fmt: skip
        assert exposed.request(path, "POST", origin, auth=False)[0] == 401


def test_pages_run_only_the_boards_own_scripts(local: BoardServer) -> None:
    for path in ("/", "/pass", "/station/grill", "/speed"):
        status, headers, body = local.request(path)
        assert status == 200
        policy = headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        scripts = re.findall(rb"<script([^>]*)>(.*?)</script>", body, re.S)
        assert scripts
        assert all(b'src="/static/' in attrs and not inner.strip() for attrs, inner in scripts)
        assert not re.search(rb"<[^>]+\son[a-z]+=", body)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/board"},
        {},  # neither Origin nor Referer
        {"Origin": "http://127.0.0.1:1"},  # same host, another port: another site's page
    ],
)
def test_a_cross_site_post_is_refused(local: BoardServer, headers: dict[str, str]) -> None:
    for path in ("/api/tickets/1/serve", "/api/courses/1/2/fire",
                 "/api/orders/3f1c2a6e-9d8b-4b7a-8f3e-2c1d0e9f8a7b/cancel"):  # fmt: skip
        status, _, body = local.request(path, "POST", headers)
        assert status == 403, (path, headers)
        assert b"does not come from the board's own pages" in body


def test_a_same_origin_post_reaches_the_ticket_book(local: BoardServer) -> None:
    assert local.post("/api/tickets/424242/serve") == (
        404,
        {"error": "no ticket 424242 (never sent, or served too long ago)"},
    )
    referer = {"Origin": "", "Referer": f"{local.url}/pass"}
    assert local.post("/api/tickets/424242/recall", referer)[0] == 404
    assert local.post("/api/orders/not-an-id/cancel")[0] == 400
    assert local.post("/api/orders/3f1c2a6e-9d8b-4b7a-8f3e-2c1d0e9f8a7b/cancel")[0] == 404


def test_an_unknown_station_is_404(local: BoardServer) -> None:
    status, _, body = local.request("/station/sushi")
    assert status == 404
    assert b"no station sushi on the menu" in body
