"""`make demo`: run the restaurant end to end with the tutorial's three orders, then tidy up."""

import os
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from tools.redis_server import REDIS_CONF, RedisServer, answers
from tools.worker import KitchenWorker

ROOT = Path(__file__).resolve().parent.parent
ORDERS = ROOT / "docs" / "orders.json"
#: What the demo kitchen looks like: fast, and with one busy grill so a retry shows.
DEMO_KITCHEN = {
    "KITCHEN_SPEED": "5",
    "KITCHEN_TROUBLE": "Burger=busy:1",
    "KITCHEN_RETRY_BACKOFF": "0.5",
}
#: Worker log lines worth showing beside the waiter's output.
SHOWN = ("Preparing", "is ready.", "Trouble with", "took too long", "Hard time limit")


def main() -> int:
    """Run the demo; return the waiter's exit code."""
    started = time.monotonic()
    workdir = ROOT / ".demo"
    shutil.rmtree(workdir, ignore_errors=True)
    with ExitStack() as stack:
        url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        if answers(url):
            say(f"using the Redis at {url}")
        else:
            server = stack.enter_context(RedisServer(None, workdir / "redis", config=REDIS_CONF))
            say(f"no Redis answered at {url}; started a private one at {server.url}")
            url = server.url
        env = {**DEMO_KITCHEN, "REDIS_URL": url}
        say("starting a kitchen worker (celery -A kitchen worker, prefork pool)")
        worker = stack.enter_context(KitchenWorker(env, workdir / "worker.log", name="chef1"))
        say(f"placing the tutorial's orders from {ORDERS.relative_to(ROOT)}:")
        waiter = [str(Path(sys.executable).with_name("waiter"))]
        command = [*waiter, "order", "--file", str(ORDERS), "--wait", "--timeout", "60"]
        code = subprocess.call(command, env={**os.environ, **env})
        say("the kitchen's log:")
        for line in worker.log().splitlines():
            if any(mark in line for mark in SHOWN):
                print("  kitchen |", line.split("] ", 1)[-1])  # noqa: T201
        say("stopping what the demo started")
    say(f"done in {time.monotonic() - started:.1f} s, exit code {code}")
    return code


def say(message: str) -> None:
    """Print a demo step."""
    print(f"==> {message}", flush=True)  # noqa: T201


if __name__ == "__main__":
    sys.exit(main())
