"""The Procfile starts a working stack: a worker that cooks and a Flower that answers."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import TEST_KITCHEN, created_ids, run_waiter
from tools.redis_server import RedisServer, free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parent.parent


def test_honcho_runs_the_procfile(redis_server: RedisServer, tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{redis_server.port}/3"
    port, board_port = free_port(), free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        **TEST_KITCHEN,
        "REDIS_URL": url,
        "FLOWER_PORT": str(port),
        "BOARD_PORT": str(board_port),
        "FLOWER_DB": str(tmp_path / "flower-state"),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }
    log = (tmp_path / "honcho.log").open("wb")
    stack = subprocess.Popen(
        [f"{bin_dir}/honcho", "start", "--no-colour"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthcheck") as answer:
                    assert answer.read() == b"OK"
                    break
            except OSError:
                assert stack.poll() is None, (tmp_path / "honcho.log").read_text()
                assert time.monotonic() < deadline, "Flower did not answer"
                time.sleep(0.2)

        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{board_port}/api/tickets") as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert stack.poll() is None, (tmp_path / "honcho.log").read_text()
                assert time.monotonic() < deadline, "the board did not answer"
                time.sleep(0.2)

        result = run_waiter(env, "order", "--table", "12", "--dish", "Salad", "--wait")

        assert result.returncode == 0, result.stdout + result.stderr
        [order_id] = created_ids(result.stdout)
        output = (tmp_path / "honcho.log").read_text()
        assert f"[{order_id}]: Salad for table 12 is ready." in output

        held = run_waiter(env, "order", "-t", "12", "-d", "Salad", "--in", "1s", "--wait")
        assert held.returncode == 0, held.stdout + held.stderr
        [held_id] = created_ids(held.stdout)
        assert f"Fired held order {held_id}" in (tmp_path / "honcho.log").read_text()
    finally:
        stack.send_signal(signal.SIGTERM)
        try:
            stack.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()
        log.close()
