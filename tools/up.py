"""`make up`: run the Procfile with honcho, against REDIS_URL or else a private Redis."""

import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from tools.redis_server import REDIS_CONF, RedisServer, answers

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    """Start the stack and return honcho's exit code when it stops (Ctrl-C)."""
    with ExitStack() as stack:
        url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        if not answers(url):
            server = stack.enter_context(
                RedisServer(None, ROOT / ".run" / "redis", config=REDIS_CONF)
            )
            print(f"no Redis answered at {url}; started a private one at {server.url}")  # noqa: T201
            url = server.url
        bin_dir = str(Path(sys.executable).parent)
        env = {**os.environ, "REDIS_URL": url, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        command = [f"{bin_dir}/honcho", "start", "--procfile", str(ROOT / "Procfile")]
        try:
            return subprocess.call(command, cwd=ROOT, env=env)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
