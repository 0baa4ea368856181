"""The commands a Redis database is sent, heard by MONITOR in a thread while a test runs."""

import threading

import redis


class Monitor:
    """The commands sent to one database, each as (its name, whether a Lua script sent it)."""

    def __init__(self, url: str, db: int) -> None:
        self.client = redis.Redis.from_url(url)
        self.db = db
        self.heard: list[tuple[str, bool]] = []
        self.token = f"monitor-{id(self)}"
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)

    @property
    def commands(self) -> list[str]:
        """The commands clients sent, not their scripts."""
        return [name for name, by_script in self.heard if not by_script]

    def _listen(self) -> None:
        with self.client.monitor() as monitor:  # type: ignore[no-untyped-call]
            self._listening.set()
            for heard in monitor.listen():
                if heard["command"] == f"ECHO {self.token}":
                    return
                if heard.get("db") == self.db:
                    name = heard["command"].split()[0].upper()
                    self.heard.append((name, heard.get("client_type") == "lua"))

    def __enter__(self) -> "Monitor":
        self._thread.start()
        assert self._listening.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.echo(self.token)  # heard by the monitor, which stops there
        self._thread.join(timeout=5)
