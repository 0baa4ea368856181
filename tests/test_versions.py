"""The ranges we declare, the lock that installs within them, and the kitchen's start-up check."""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from kitchen.versions import WATCHED, declared_ranges, untested_versions
from tools.redis_server import RedisServer
from tools.worker import KitchenWorker

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
#: The lines of requirements.lock that pin a package: name, version, and the marker if any.
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$", re.M)


def pyproject_requirements() -> list[Requirement]:
    """Every requirement pyproject.toml declares: the package's and the dev extra's."""
    project = PYPROJECT["project"]
    lines = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [Requirement(line) for line in lines]


def lock_pins() -> dict[str, list[tuple[str, str | None]]]:
    """The lock's pins by package name: each version with the marker it applies under."""
    pins: dict[str, list[tuple[str, str | None]]] = {}
    for name, version, marker in PIN.findall((ROOT / "requirements.lock").read_text()):
        pins.setdefault(canonicalize_name(name), []).append((version, marker or None))
    return pins


def test_every_declared_requirement_is_pinned_in_the_lock_within_its_range() -> None:
    """A range changed in pyproject.toml without `make lock` fails here."""
    pins = lock_pins()
    for requirement in pyproject_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: run make lock"
        for version, _ in pins[name]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"requirements.lock pins {name}=={version}, outside {requirement.specifier}: "
                "run make lock"
            )


def test_every_pin_in_the_lock_has_hashes() -> None:
    text = (ROOT / "requirements.lock").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert len(entries) >= 50
    for entry in entries:
        if entry.strip() and not entry.startswith("#"):
            assert "--hash=sha256:" in entry, entry.splitlines()[0]


def test_the_packages_whose_internals_we_use_have_an_upper_bound() -> None:
    declared = {canonicalize_name(r.name): r.specifier for r in pyproject_requirements()}
    for name in ("celery", "kombu", "billiard", "redis", "flower"):
        assert any(spec.operator in ("<", "<=") for spec in declared[canonicalize_name(name)]), name


def test_the_installed_metadata_declares_the_ranges_of_pyproject() -> None:
    """The check reads our installed metadata: it must say what pyproject.toml says."""
    installed = declared_ranges()
    for requirement in pyproject_requirements()[: len(PYPROJECT["project"]["dependencies"])]:
        assert installed[requirement.name] == requirement.specifier, requirement.name


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        ({"celery": "5.7.0", "kombu": "5.5.0"}, None),
        ({"celery": "5.7.0", "kombu": "5.8.0"}, "kombu 5.8.0 (tested: <5.8,>=5.5)"),
        ({"celery": "5.4.0", "kombu": "5.8.0rc1"}, "celery 5.4.0 (tested: <5.8,>=5.5), kombu"),
    ],
)
def test_a_version_outside_its_range_is_named(
    versions: dict[str, str], expected: str | None
) -> None:
    ranges = {name: SpecifierSet(">=5.5,<5.8") for name in WATCHED}

    line = untested_versions(versions, ranges)

    if expected is None:
        assert line is None
    else:
        assert line is not None and expected in line and "\n" not in line


@pytest.mark.e2e
def test_a_worker_says_at_start_when_kombu_is_outside_its_range(tmp_path: Path) -> None:
    # A kombu that reports itself as 9.9.0: metadata found before the installed one's.
    fake = tmp_path / "site" / "kombu-9.9.0.dist-info"
    fake.mkdir(parents=True)
    (fake / "METADATA").write_text("Metadata-Version: 2.1\nName: kombu\nVersion: 9.9.0\n")
    with RedisServer(None, tmp_path / "redis") as redis_server:
        env = {"REDIS_URL": redis_server.url}
        with KitchenWorker(env, tmp_path / "plain.log", concurrency=1) as plain:
            plain_log = plain.log()
        shadowed = {**env, "PYTHONPATH": str(tmp_path / "site")}
        with KitchenWorker(shadowed, tmp_path / "old.log", concurrency=1) as warned:
            warned_log = warned.log()

    assert "was not tested with" not in plain_log
    [line] = [line for line in warned_log.splitlines() if "was not tested with" in line]
    assert "WARNING" in line and "kombu 9.9.0 (tested: <5.8,>=5.7)" in line
    assert "celery" not in line.split("was not tested with", 1)[1]
