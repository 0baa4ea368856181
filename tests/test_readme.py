"""The README's commands, run as a newcomer runs them, their output held to what the README shows.

`make demo` runs on a Redis of its own. The tour then runs in the README's order on another:
`make up` (the Procfile under honcho: worker, scheduler, Flower) and `waiter watch` start in the
background, as in terminals of their own, and the other commands run one after the other; the
outputs of the two that run until Ctrl-C are held to the README at the end, and Ctrl-C stops
them. `make test` is the one command not run here: it is the command running this suite.
"""

import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
import redis

from tests.transcripts import (
    UUID,
    Bindings,
    Step,
    commands_outside_console_blocks,
    console_blocks,
    mismatch,
)
from tools.redis_server import RedisServer, free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
#: The variables a user's shell might hold that would change what the commands print.
OURS = re.compile(
    r"^(REDIS|KITCHEN|FLOWER|BROKER|RESULT|CELERY|WAITER|RESTAURANT|ORDER|RECENT|DEAD|"
    r"SCHEDULER|VISIBILITY|WORKER)_|^(REDIS_URL|BROKER_URL|RESULT_BACKEND|DEAD_LETTERS)$"
)


@dataclass
class Background:
    """A command that runs until Ctrl-C, in a terminal of its own."""

    step: Step
    process: subprocess.Popen[bytes]
    output: Path

    def text(self) -> str:
        """What it has printed so far."""
        return self.output.read_text(encoding="utf-8", errors="replace")


def _clean_env(**settings: str) -> dict[str, str]:
    """A newcomer's environment: none of our variables but these, the project's venv first."""
    env = {name: value for name, value in os.environ.items() if not OURS.match(name)}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **settings}


def _wait(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            printed = condition.args[0].text() if isinstance(condition, partial) else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{printed}")
        time.sleep(0.1)


def _run(step: Step, env: dict[str, str], bindings: Bindings) -> None:
    command = bindings.command(step.command)
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        check=False,
    )
    problem = mismatch(step.expected, result.stdout, bindings)
    assert problem is None, f"$ {step.command}\n{problem}\n--- printed:\n{result.stdout}"


def _start(step: Step, env: dict[str, str], workdir: Path, bindings: Bindings) -> Background:
    output = workdir / f"background-{step.block}.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            ["bash", "-c", bindings.command(step.command)],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Background(step, process, output)


def _interrupt(running: Background) -> None:
    """Ctrl-C, as a terminal sends it: SIGINT to the command's process group."""
    if running.process.poll() is None:
        os.killpg(running.process.pid, signal.SIGINT)
    try:
        running.process.wait(timeout=30)
    finally:
        if running.process.poll() is None:
            os.killpg(running.process.pid, signal.SIGKILL)


def _interrupt_all(background: list[Background]) -> None:
    for running in reversed(background):
        _interrupt(running)


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def tour_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(None, tmp_path / "redis") as server:
        yield server


def test_every_command_in_the_readme_prints_what_the_readme_shows(
    tour_redis: RedisServer, tmp_path: Path
) -> None:
    blocks = console_blocks(README.read_text(encoding="utf-8"))
    steps = [step for block in blocks for step in block]
    assert [step.command for step in steps][:2] == ["make demo", "make up"], "the README's order"
    bindings = Bindings()
    flower_port = free_port()
    env = _clean_env(
        REDIS_URL=tour_redis.url,
        FLOWER_PORT=str(flower_port),
        BOARD_PORT=str(free_port()),
        FLOWER_DB=str(tmp_path / "flower-state"),
    )
    background: list[Background] = []
    with ExitStack() as stack:
        stack.callback(_interrupt_all, background)
        for step in steps:
            if step.command == "make demo":
                demo_redis = stack.enter_context(RedisServer(None, tmp_path / "demo-redis"))
                _run(step, _clean_env(REDIS_URL=demo_redis.url), Bindings())
            elif step.command == "make up":
                running = _start(step, env, tmp_path, bindings)
                background.append(running)
                _wait(partial(_as_shown, running), 90, "make up to print what the README shows")
            elif step.command.startswith("waiter watch"):
                listening = partial(_subscribers, tour_redis.url, _subscribers(tour_redis.url))
                background.append(_start(step, env, tmp_path, bindings))
                _wait(listening, 30, "waiter watch to listen")
            else:
                # As a reader would, let the other terminals show what the README shows of the
                # orders placed so far before going on.
                for running in background:
                    if _ids_bound(running.step, bindings):
                        _wait(partial(_as_shown, running), 30, f"{running.step.command!r}")
                _run(step, env, bindings)

        for running in background:
            _wait(partial(_as_shown, running), 30, f"{running.step.command!r} to print its lines")
            problem = mismatch(running.step.expected, running.text(), bindings)
            assert problem is None, f"$ {running.step.command}\n{problem}\n{running.text()}"

        # Flower, where the README sends the reader, knows every order the tour placed.
        placed = set(re.findall(UUID, " ".join(bindings.ids.values())))
        assert len(placed) >= 2, bindings.ids
        for order_id in placed:
            page = _get(f"http://127.0.0.1:{flower_port}/task/{order_id}")
            assert order_id in page and "SUCCESS" in page, order_id

        for running in reversed(background):
            _interrupt(running)
            _wait(partial(_group_gone, running.process.pid), 30, f"{running.step.command!r} to end")
        background.clear()


def _ids_bound(step: Step, bindings: Bindings) -> bool:
    """Whether every order id a command's output shows has been printed by an earlier one."""
    return all(shown in bindings.ids for shown in re.findall(UUID, "\n".join(step.expected)))


def _as_shown(running: Background) -> bool:
    """Whether a background command has printed what the README shows, ids aside."""
    return mismatch(running.step.expected, running.text(), Bindings()) is None


def _subscribers(url: str, more_than: int = -1) -> int:
    """How many clients listen on pub/sub, or 0 while no more than `more_than` do."""
    with redis.Redis.from_url(url) as client:
        count = sum("P" in client_info["flags"] for client_info in client.client_list())
    return count if count > more_than else 0


def _get(url: str) -> str:
    request = urllib.request.Request(url)  # noqa: S310  (our own Flower on loopback)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return str(response.read().decode())


def test_every_shown_command_is_in_a_console_block() -> None:
    """A command shown anywhere else would escape the test above."""
    assert commands_outside_console_blocks(README.read_text(encoding="utf-8")) == []


def test_make_test_is_what_ci_runs_and_runs_this_suite() -> None:
    """The README's other command: `.ci/run` calls it, and it runs lint, the docs and pytest."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    test_target = re.search(r"^test:(.*)\n((?:\t.*\n)+)", makefile, re.M)
    assert test_target, "no test target"
    assert "lint" in test_target.group(1) and "pytest" in test_target.group(2)
    assert re.search(r"^lint:.*\bdocs\b", makefile, re.M)
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(encoding="utf-8"), re.M)
    assert "`make test`" in README.read_text(encoding="utf-8")


def test_the_readme_stays_short() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 250


# --- The matcher itself: each check above can fail -------------------------------------------


def test_a_transcript_matches_another_run_of_the_same_commands() -> None:
    bindings = Bindings()
    shown = ["Order for table 1 created: eff29a4b-f354-4550-9462-0eb6b6406761"]
    printed = "Order for table 1 created: 0c1a9e37-1f7e-4a52-9b39-2a3f5d7f0e11\n"

    assert mismatch(shown, printed, bindings) is None
    assert bindings.command("waiter status eff29a4b-f354-4550-9462-0eb6b6406761") == (
        "waiter status 0c1a9e37-1f7e-4a52-9b39-2a3f5d7f0e11"
    )
    assert (
        mismatch(["Pasta [eff29a4b]: 25% cooked"], "Pasta [0c1a9e37]: 75% cooked", bindings) is None
    )


@pytest.mark.parametrize(
    ("shown", "printed"),
    [
        (["Order for table 1 created: ..."], "Order for table 2 created: x"),
        (["Pasta for table 1 is ready after 5.4 s"], "Pasta for table 1 is ready after 5.4 min"),
        (["a", "b"], "a\n"),
        (["a", "...", "c"], "c\na\n"),
        (["preparing (attempt 1, chef1@vm)"], "preparing (attempt 2, chef1@vm)"),
    ],
)
def test_a_transcript_does_not_match_different_words_lines_or_order(
    shown: list[str], printed: str
) -> None:
    assert mismatch(shown, printed, Bindings()) is not None


def test_an_id_once_bound_must_come_back_the_same() -> None:
    bindings = Bindings()
    first = "created: eff29a4b-f354-4550-9462-0eb6b6406761"
    assert mismatch([first], "created: 0c1a9e37-1f7e-4a52-9b39-2a3f5d7f0e11", bindings) is None

    other = "ready (order 9d0f6c1e-3b5a-4c7d-8e9f-0a1b2c3d4e5f)"
    assert mismatch(["ready (order eff29a4b-f354-4550-9462-0eb6b6406761)"], other, bindings)
    assert mismatch(["Pasta [eff29a4b]"], "Pasta [9d0f6c1e]", bindings)
    with pytest.raises(KeyError):
        bindings.command("waiter status 11111111-2222-4333-8444-555555555555")
