"""The Celery, kombu and billiard versions the kitchen was tested with, checked at start-up.

The kitchen uses internals of both (pyproject.toml names them beside their ranges), so a
version outside the range it declares may change how it behaves. A worker that finds one says
so in one line of its log and carries on: a warning for the operator who upgraded, not a
refusal.
"""

import logging
from importlib.metadata import PackageNotFoundError, requires, version
from typing import Any, Final

from celery.signals import celeryd_after_setup
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

logger = logging.getLogger(__name__)

#: Our distribution, whose metadata carries the ranges pyproject.toml declares.
DISTRIBUTION: Final = "restaurant-orders"
#: The packages whose internals the kitchen uses, checked at start-up.
WATCHED: Final = ("celery", "kombu", "billiard")


def declared_ranges(distribution: str = DISTRIBUTION) -> dict[str, SpecifierSet]:
    """The version ranges our distribution requires of its dependencies, by package name."""
    ranges: dict[str, SpecifierSet] = {}
    for line in requires(distribution) or []:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            ranges[requirement.name] = requirement.specifier
    return ranges


def untested_versions(
    installed: dict[str, str], ranges: dict[str, SpecifierSet], watched: tuple[str, ...] = WATCHED
) -> str | None:
    """One line naming each watched package installed outside its range, or None if none is."""
    outside = [
        f"{name} {installed[name]} (tested: {ranges[name]})"
        for name in watched
        if name in installed and name in ranges
        if not ranges[name].contains(installed[name], prereleases=True)
    ]
    if not outside:
        return None
    return (
        f"This kitchen was not tested with {', '.join(outside)}: it may not behave as "
        "documented (pyproject.toml names the internals it uses)"
    )


def installed_versions(names: tuple[str, ...] = WATCHED) -> dict[str, str]:
    """The installed version of each package, as its metadata tells it."""
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def warn_if_untested(**_: Any) -> None:
    """At a worker's start: log one warning line if Celery, kombu or billiard is outside."""
    try:
        ranges = declared_ranges()
    except PackageNotFoundError:
        # Run from a source tree that was never installed: nothing declares a range.
        return
    line = untested_versions(installed_versions(), ranges)
    if line:
        logger.warning(line)


def install() -> None:
    """Check the versions once each worker has set itself up (its log is ready then)."""
    celeryd_after_setup.connect(warn_if_untested, weak=False)
