"""The menu: which dishes exist, where they are cooked, how long they take and may take."""

import difflib
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, TypeVar

import msgspec

from restaurant.exceptions import MenuError
from restaurant.settings import load_settings

PositiveSeconds = Annotated[float, msgspec.Meta(gt=0, le=86_400)]
#: Also the name of the station's queue: lower-case letters, digits, '-' and '_'.
StationName = Annotated[str, msgspec.Meta(max_length=32, pattern=r"^[a-z][a-z0-9_-]*\Z")]
Minutes = Annotated[float, msgspec.Meta(gt=0, le=1440)]


class Dish(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One dish on the menu."""

    name: str
    station: StationName
    cook_seconds: tuple[PositiveSeconds, PositiveSeconds]
    soft_limit: PositiveSeconds
    hard_limit: PositiveSeconds

    def __post_init__(self) -> None:
        shortest, longest = self.cook_seconds
        if shortest > longest:
            raise ValueError("cook_seconds must be [shortest, longest]")
        if not longest < self.soft_limit < self.hard_limit:
            raise ValueError("need longest cooking time < soft_limit < hard_limit")


class Station(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One station of the kitchen: where dishes of one kind are cooked."""

    name: str
    #: Dishes it can cook at once across every worker; None: as many as there are cooks.
    capacity: Annotated[int, msgspec.Meta(ge=1, le=10_000)] | None = None
    #: Minutes after which a ticket's dishes at this station show as late, then very late.
    warn_after: Minutes = 5.0
    late_after: Minutes = 8.0


Entry = TypeVar("Entry", Dish, Station)


class Menu:
    """The dishes, looked up by name regardless of case, and the stations that cook them."""

    def __init__(self, dishes: list[Dish], stations: list[Station] | None = None) -> None:
        self.dishes = tuple(dishes)
        self._by_key = {dish.name.casefold(): dish for dish in dishes}
        configured = {station.name: station for station in stations or []}
        names = dict.fromkeys(dish.station for dish in dishes)
        #: Every station a dish is cooked at, in the menu's order, with its capacity.
        self.stations = {name: configured.get(name, Station(name=name)) for name in names}

    def find(self, name: str) -> Dish | None:
        """Return the dish called `name` (any case), or None."""
        return self._by_key.get(name.casefold())

    def __getitem__(self, name: str) -> Dish:
        """Return the dish called `name` (any case); KeyError if it is not on the menu."""
        return self._by_key[name.casefold()]

    def suggest(self, name: str) -> str | None:
        """Return the dish name closest to `name`, for a did-you-mean hint."""
        keys = difflib.get_close_matches(name.casefold(), self._by_key, n=1, cutoff=0.6)
        return self._by_key[keys[0]].name if keys else None


def parse_menu(text: str, source: str) -> Menu:
    """Parse a menu from TOML text; `source` names it in errors."""
    try:
        data = tomllib.loads(text)
        raw_dishes = data["dishes"]
        dishes = [_entry(Dish, name, fields, source) for name, fields in raw_dishes.items()]
        raw_stations = data.get("stations", {})
        stations = [_entry(Station, name, fields, source) for name, fields in raw_stations.items()]
    except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise MenuError(f"menu {source} is malformed: {exc}") from None
    if not dishes:
        raise MenuError(f"menu {source} has no dishes")
    used = {dish.station for dish in dishes}
    for station in stations:
        if station.name not in used:
            raise MenuError(f"menu {source} is invalid: station {station.name!r} has no dishes")
    return Menu(dishes, stations)


def _entry(kind: type[Entry], name: str, fields: dict[str, Any], source: str) -> Entry:
    """One dish or station of the menu, checked; an error names which one."""
    try:
        return msgspec.convert({"name": name, **fields}, kind)
    except msgspec.ValidationError as exc:
        what = kind.__name__.lower()
        raise MenuError(f"menu {source} is invalid: {what} {name!r}: {exc}") from None


@cache
def load_menu() -> Menu:
    """Load the menu named by KITCHEN_MENU, or the one shipped with the package."""
    path = load_settings().menu_path
    if path is None:
        text = resources.files("restaurant").joinpath("menu.toml").read_text(encoding="utf-8")
        return parse_menu(text, "restaurant/menu.toml")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise MenuError(f"cannot read menu {path}: {exc.strerror}") from None
    return parse_menu(text, str(path))
