"""The waiter as a user meets it: --version, shell completion, examples in --help, wording."""

import shlex
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import redis
from typer.core import TyperGroup
from typer.main import get_command

from restaurant.menu import load_menu
from tests.conftest import WAITER, created_ids, run_waiter
from waiter.cli import app
from waiter.display import counted
from waiter.progress import PlainLines, shortfall

#: The commands, in the order `waiter --help` lists them.
COMMANDS = [
    "order", "status", "orders", "watch", "cancel", "fire",
    "tickets", "serve", "recall", "report", "failed", "retry", "menu",
]  # fmt: skip


def complete(words: str, *, env: dict[str, str] | None = None) -> list[str]:
    """What bash's completion asks the waiter for the last word of `words`."""
    cword = len(shlex.split(words)) - (0 if words.endswith(" ") else 1)
    result = run_waiter(
        {
            **(env or {}),
            "_WAITER_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(cword),
        }
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return [line for line in result.stdout.splitlines() if line]


def from_bash(script: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Run `script` in a non-interactive bash (the waiter's parent shell), with its own HOME."""
    # `; exit $?` keeps bash from replacing itself with the last command: it stays the parent.
    return subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", f"{script}; exit $?", WAITER],
        env={"PATH": f"{Path(WAITER).parent}:/usr/bin:/bin", "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def examples(help_text: str) -> list[str]:
    """The command lines under 'Examples:' in a --help page."""
    _, _, shown = help_text.partition("\n  Examples:\n")
    return [line.strip() for line in shown.splitlines() if line.startswith("    waiter ")]


def test_version_names_the_installed_distribution() -> None:
    result = run_waiter({}, "--version")

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"waiter {version('restaurant-orders')}\n"


def test_help_lists_the_commands_in_their_order_and_the_new_options() -> None:
    result = run_waiter({}, "--help")

    assert result.returncode == 0
    _, _, listed = result.stdout.partition("Commands:\n")
    assert [line.split()[0] for line in listed.splitlines() if line.strip()] == COMMANDS
    for option in ("--version", "--install-completion", "--show-completion"):
        assert option in result.stdout


def test_show_completion_prints_a_bash_script_using_the_completion_variable(
    tmp_path: Path,
) -> None:
    result = from_bash('"$0" --show-completion bash', tmp_path)

    assert result.returncode == 0, result.stderr
    assert "_WAITER_COMPLETE=complete_bash" in result.stdout
    assert "complete -o default -F _waiter_completion waiter" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_install_completion_writes_only_under_home(tmp_path: Path) -> None:
    result = from_bash('"$0" --install-completion', tmp_path)

    assert result.returncode == 0, result.stderr
    script = tmp_path / ".bash_completions" / "waiter.sh"
    assert "_WAITER_COMPLETE=complete_bash" in script.read_text()
    assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()


def test_completing_a_command_name() -> None:
    assert complete("waiter or") == ["order", "orders"]
    assert complete("waiter f") == ["fire", "failed"]


@pytest.mark.parametrize("typed", ["Pa", "pa", "PA"])
def test_completing_a_dish_ignores_case(typed: str) -> None:
    offered = complete(f"waiter order --dish {typed}")

    assert offered == ["Pasta"]
    assert "Salad" not in offered


def test_completing_dishes_offers_the_menu_in_its_order() -> None:
    menu = [dish.name for dish in load_menu().dishes]

    assert complete("waiter order --table 1 --dish ") == menu
    assert complete("waiter order -t 1 -d Pasta -d s") == [
        name for name in menu if name.lower().startswith("s")
    ]
    assert complete("waiter order --dish Lobster") == []


def test_completing_a_dish_from_a_broken_menu_offers_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "menu.toml"
    broken.write_text("dishes = [")

    assert complete("waiter order --dish P", env={"KITCHEN_MENU": str(broken)}) == []


def test_bash_itself_completes_a_dish_through_the_shown_script(tmp_path: Path) -> None:
    script = (
        'source <("$0" --show-completion bash)'
        " && COMP_WORDS=(waiter order -t 2 --dish ri) && COMP_CWORD=5"
        ' && _waiter_completion waiter && printf "%s\\n" "${COMPREPLY[@]}"'
    )

    result = from_bash(script, tmp_path)

    assert (result.returncode, result.stdout) == (0, "Risotto\n"), result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_shows_examples_it_accepts(command: str) -> None:
    result = run_waiter({}, command, "--help")

    assert result.returncode == 0
    assert "\n  Examples:\n" in result.stdout
    lines = examples(result.stdout)
    assert 1 <= len(lines) <= 2
    program = get_command(app)
    assert isinstance(program, TyperGroup)
    for line in lines:
        words = shlex.split(line)
        assert words[:2] == ["waiter", command]
        # Parsed and checked as the real command line would be, without running the command.
        with program.make_context("waiter", words[1:]) as parent:
            found = program.get_command(parent, command)
            assert found is not None
            found.make_context(command, words[2:], parent=parent).close()


def test_importing_the_program_loads_no_celery_kombu_or_rich() -> None:
    code = (
        "import sys, waiter.cli;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'celery', 'kombu', 'rich'}))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout == "[]\n"


@pytest.mark.e2e
def test_firing_a_course_of_one_dish_says_dish(kitchen_env: dict[str, str], idle_url: str) -> None:
    env = {**kitchen_env, "REDIS_URL": idle_url}
    held = run_waiter(env, "order", "-t", "7", "-d", "Salad", "--course", "3", "--hold")
    assert held.returncode == 0, held.stderr
    assert len(created_ids(held.stdout)) == 1

    fired = run_waiter(env, "fire", "--table", "7", "--course", "3")

    assert (fired.returncode, fired.stderr) == (0, "")
    assert fired.stdout == "Course 3 for table 7 fired: 1 dish sent to the kitchen\n"
    with redis.Redis.from_url(idle_url) as client:
        assert client.llen("cold") == 1


def test_counts_read_right_for_one_and_for_many() -> None:
    assert [counted(n, "dish", "dishes") for n in (0, 1, 2)] == ["0 dishes", "1 dish", "2 dishes"]
    assert counted(1, "failed order") == "1 failed order"
    assert counted(3, "failed order") == "3 failed orders"


@pytest.mark.parametrize(
    ("dishes", "failed", "cancelled", "message"),
    [
        (1, 1, 0, "1 of 1 dish failed"),
        (1, 0, 1, "1 of 1 dish: 1 was cancelled"),
        (2, 1, 0, "1 of 2 dishes failed"),
    ],
)
def test_shortfall_of_a_single_dish(dishes: int, failed: int, cancelled: int, message: str) -> None:
    shown = PlainLines({})
    shown.failed, shown.cancelled = failed, cancelled

    assert shortfall(shown, dishes) == message
