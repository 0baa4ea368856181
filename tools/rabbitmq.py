"""A private virtual host on the local RabbitMQ, created and deleted with rabbitmqctl."""

import os
import shutil
import subprocess
from typing import Self

from tools.process import OwnProcess


def rabbitmqctl(*args: str) -> str:
    """Run rabbitmqctl (as root, like CI); raise with its output if it fails."""
    command = shutil.which("rabbitmqctl")
    if command is None:
        raise RuntimeError("no rabbitmqctl: install rabbitmq-server (.ci/run does)")
    done = subprocess.run(
        [command, "--quiet", *args], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"rabbitmqctl {' '.join(args)} failed (is RabbitMQ running? .ci/run starts it): "
            f"{(done.stderr or done.stdout).strip()}"
        )
    return done.stdout


class RabbitVhost(OwnProcess):
    """`with RabbitVhost("name") as vhost: vhost.url`: the vhost exists only inside the block.

    The RabbitMQ server is shared: only this vhost is created and deleted, for user guest.
    """

    def __init__(self, name: str | None = None, port: int = 5672) -> None:
        self.name = name or f"restaurant-test-{os.getpid()}"
        self.port = port

    @property
    def url(self) -> str:
        """The amqp:// URL of the vhost."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{self.name}"

    def start(self) -> Self:
        """Create the vhost (afresh) and let guest use it."""
        self.stop()
        rabbitmqctl("add_vhost", self.name)
        rabbitmqctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")
        return self

    def stop(self) -> None:
        """Delete the vhost and everything in it, if it exists."""
        if self.name in rabbitmqctl("list_vhosts", "name").split():
            rabbitmqctl("delete_vhost", self.name)
