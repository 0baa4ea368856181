"""`celery -A kitchen flower` is safe by default: loopback only, never an open API, and it
refuses to start exposed, whichever way the address or the API switch is given."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.flower import ROOT, Flower
from tools.redis_server import RedisServer, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def flower_env(redis_server: RedisServer, tmp_path: Path) -> dict[str, str]:
    """Database 15 of the suite's Redis (no worker there), a state file of the test's own."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("FLOWER_")}
    return {
        **inherited,
        "REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/15",
        "FLOWER_DB": str(tmp_path / "state"),
    }


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net shows them) with a socket listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(address)
    return found


def test_by_default_it_listens_on_loopback_only(flower_env: dict[str, str], tmp_path: Path) -> None:
    with Flower(flower_env, tmp_path / "flower.log") as flower:
        assert listening_addresses(flower.port) == {"0100007F"}  # 127.0.0.1, nothing else
        assert f"Visit me at http://127.0.0.1:{flower.port}" in flower.log()
        assert flower.request("/")[0] == 200
        # Without credentials configured, the API stays shut.
        status, body = flower.request("/api/tasks")
        assert status == 401 and b"FLOWER_UNAUTHENTICATED_API" in body
        grow = flower.request("/api/worker/pool/grow/anyone@here", method="POST")
        assert grow[0] == 401
    # Persistent by default: stopping saved the state (dbm may add a suffix to the name).
    assert list(tmp_path.glob("state*"))


REFUSED_ANYWHERE = "Flower would listen on {} without a password"
#: Every IPv4 interface: what Flower must refuse to listen on without a password.
ANY = "0.0.0.0"  # noqa: S104


def _config_file(tmp_path: Path) -> Path:
    config = tmp_path / "elsewhere.py"
    config.write_text(f"address = {ANY!r}\n")
    return config


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ((f"--address={ANY}",), {}, REFUSED_ANYWHERE.format(ANY)),
        (("--address=",), {}, REFUSED_ANYWHERE.format("every interface")),
        ((), {"FLOWER_ADDRESS": ANY}, REFUSED_ANYWHERE.format(ANY)),
        (("--address=::",), {}, REFUSED_ANYWHERE.format("::")),
        (("--conf={config}",), {}, REFUSED_ANYWHERE.format(ANY)),
        ((), {"FLOWER_UNAUTHENTICATED_API": "true"}, "FLOWER_UNAUTHENTICATED_API is set"),
        (
            (),
            {"FLOWER_UNAUTHENTICATED_API": "1", "FLOWER_BASIC_AUTH": "manager:pw"},
            "FLOWER_UNAUTHENTICATED_API is set",
        ),
        ((), {"FLOWER_BASIC_AUTH": "manager"}, "FLOWER_BASIC_AUTH must be user:password"),
        (
            (f"--address={ANY}", "--basic_auth=manager:"),
            {},
            "FLOWER_BASIC_AUTH must be user:password",
        ),
    ],
    ids=[
        "address-on-command-line",
        "empty-address-on-command-line",
        "address-in-environment",
        "ipv6-any",
        "address-in-another-config-file",
        "unauthenticated-api",
        "unauthenticated-api-even-with-a-password",
        "password-missing",
        "password-empty",
    ],
)
def test_it_refuses_to_start_exposed(
    flower_env: dict[str, str],
    tmp_path: Path,
    args: tuple[str, ...],
    env: dict[str, str],
    message: str,
) -> None:
    port = free_port()
    config = _config_file(tmp_path)
    command = [sys.executable, "-m", "celery", "-A", "kitchen", "flower", f"--port={port}"]
    command += [arg.format(config=config) for arg in args]

    result = subprocess.run(
        command,
        cwd=ROOT,
        env={**flower_env, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"flower: error: {message}" in result.stderr, result.stderr
    # Flower says where to visit it once it listens: it never got that far.
    assert "Visit me" not in result.stdout + result.stderr
