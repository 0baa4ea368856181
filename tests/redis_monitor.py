"""The commands a Redis database is sent, heard by MONITOR in a thread while a test runs."""

import threading

import redis


class Monitor:
    """The commands sent to one database, each as (its name, whether a Lua script sent it)."""

    def __init__(self, url: str, db: int) -> None:
        self.client = redis.Redis.from_url(url)
        self.db = db
        self.heard: list[tuple[str, bool]] = []
        #: The commands clients sent, in full, each with the client ("address:port").
        self.sent: list[tuple[str, str]] = []
        self.token = f"monitor-{id(self)}"
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)

    @property
    def commands(self) -> list[str]:
        """The commands clients sent, not their scripts."""
        return [name for name, by_script in self.heard if not by_script]

    def sent_by_client_of(self, text: str) -> list[str]:
        """Every command sent by the client that sent the first command containing `text`."""
        client = next(client for client, command in self.sent if text in command)
        return [command for sender, command in self.sent if sender == client]

    def _listen(self) -> None:
        with self.client.monitor() as monitor:  # type: ignore[no-untyped-call]
            self._listening.set()
            for heard in monitor.listen():
                if heard["command"] == f"ECHO {self.token}":
                    return
                if heard.get("db") == self.db:
                    name = heard["command"].split()[0].upper()
                    by_script = heard.get("client_type") == "lua"
                    self.heard.append((name, by_script))
                    if not by_script:
                        client = f"{heard.get('client_address')}:{heard.get('client_port')}"
                        self.sent.append((client, heard["command"]))

    def __enter__(self) -> "Monitor":
        self._thread.start()
        assert self._listening.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.echo(self.token)  # heard by the monitor, which stops there
        self._thread.join(timeout=5)
