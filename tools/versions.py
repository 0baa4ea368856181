"""`make test-versions`: the tests that lean on Celery's and kombu's internals, at both ends.

Each end of pyproject.toml's ranges gets a virtual environment of its own under
`.run/versions/`: `oldest` installs the lowest version every declared range allows (uv's
`--resolution lowest-direct`), `newest` the newest ones available today, ignoring the lock.
Then the tests below run in each, against the versions installed there.
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

ROOT = Path(__file__).resolve().parent.parent
UV = str(Path(sys.executable).with_name("uv"))
#: How uv picks versions at each end of the ranges.
ENDS: Final = {"oldest": "lowest-direct", "newest": "highest"}
#: The tests that touch Celery's and kombu's internals, and one order end to end.
TESTS: Final = (
    "tests/test_transport.py",  # kombu's Redis channel and QoS, subclassed
    "tests/test_wire_contract.py",  # Celery's messages, rebuilt by the waiter
    "tests/test_result_layout.py",  # results as AsyncResult reads them
    "tests/test_flower.py",  # what Flower reads of them, and its options
    "tests/test_task_events.py",  # the consumer's batched task events
    "tests/test_kitchen_failures.py::test_a_dish_over_its_soft_limit_fails_cleanly",
    "tests/test_kitchen_failures.py::test_a_dish_over_its_hard_limit_is_killed_and_the_worker_carries_on",
    "tests/test_gevent_kitchen.py",  # both time limits on the gevent pool
    "tests/test_order_flow.py::test_one_dish_is_cooked_and_the_worker_logs_it",
    "tests/test_versions.py",  # the start-up check, in range
    # kombu's QoS, whose messages a dead worker's neighbours put back
    "tests/test_recovery.py::test_a_killed_workers_dishes_and_reserved_orders_are_back_in_seconds",
    # billiard's soft-limit signal handler, replaced
    "tests/test_loose_ends.py::test_a_soft_limit_signal_after_the_dish_ended_kills_no_pool_process",
    "tests/test_sentinel.py::test_the_kitchen_rides_out_the_loss_of_its_redis_master",
)
#: The versions worth printing for each end.
SHOWN: Final = ("celery", "kombu", "billiard", "redis", "flower", "gevent", "amqp", "vine")


def prepare(end: str) -> Path:
    """A fresh virtual environment for one end, with the project and its dev tools installed."""
    venv = ROOT / ".run" / "versions" / end
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([UV, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [UV, "pip", "install", "--quiet", "--python", str(python), "--resolution", ENDS[end],
         "--editable", ".[dev]"],
        cwd=ROOT,
        check=True,
    )  # fmt: skip
    return python


def installed(python: Path) -> dict[str, str]:
    """The versions of the packages worth showing, as installed for `python`."""
    script = (
        "import json, importlib.metadata as m;"
        f"print(json.dumps({{n: m.version(n) for n in {list(SHOWN)!r}}}))"
    )
    result = subprocess.run([python, "-c", script], capture_output=True, text=True, check=True)
    found: dict[str, str] = json.loads(result.stdout)
    return found


def run_tests(python: Path) -> int:
    """Run the tests in the environment; return pytest's exit code."""
    command = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS]
    return subprocess.call(command, cwd=ROOT)


def main() -> int:
    """Test each end asked for; print the versions, the outcome and the time of each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ends", nargs="*", help="oldest, newest (default: both)")
    ends = parser.parse_args().ends or list(ENDS)
    if unknown := set(ends) - set(ENDS):
        parser.error(f"no such end: {', '.join(sorted(unknown))} (oldest, newest)")
    report = []
    for end in ends:
        started = time.monotonic()
        print(f"==> {end}: installing with uv --resolution {ENDS[end]}", flush=True)  # noqa: T201
        python = prepare(end)
        versions = installed(python)
        listed = ", ".join(f"{name} {version}" for name, version in versions.items())
        print(f"==> {end}: {listed}", flush=True)  # noqa: T201
        installed_at = time.monotonic()
        code = run_tests(python)
        finished = time.monotonic()
        report.append(
            f"{end}: {'passed' if code == 0 else f'FAILED (pytest exit {code})'}; "
            f"install {installed_at - started:.0f} s, tests {finished - installed_at:.0f} s; "
            f"{listed}"
        )
    print("\n".join(f"==> {line}" for line in report))  # noqa: T201
    return 0 if all(" passed;" in line for line in report) else 1


if __name__ == "__main__":
    sys.exit(main())
