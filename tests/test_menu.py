"""Unit tests: the menu file and its checks."""

import re
from pathlib import Path

import pytest

from restaurant.exceptions import MenuError
from restaurant.menu import load_menu, parse_menu

DISH = """
[dishes.Toast]
station = "grill"
cook_seconds = [1.0, 2.0]
soft_limit = 5
hard_limit = 8
"""


def test_the_shipped_menu() -> None:
    menu = load_menu()

    assert [dish.name for dish in menu.dishes][:3] == ["Pasta", "Risotto", "Burger"]
    pasta = menu["pasta"]
    assert (pasta.station, pasta.cook_seconds, pasta.soft_limit, pasta.hard_limit) == (
        "pasta",
        (3.0, 6.0),
        15,
        20,
    )
    for dish in menu.dishes:
        assert dish.cook_seconds[1] < dish.soft_limit < dish.hard_limit


def test_suggestions() -> None:
    menu = load_menu()

    assert menu.suggest("Stake") == "Steak"
    assert menu.suggest("fries!") == "Fries"
    assert menu.suggest("Quiche") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dishes = [", "is malformed"),
        ("[other]\nx = 1", "is malformed"),
        ("[dishes]", "has no dishes"),
        (
            DISH.replace("soft_limit = 5", "soft_limit = 9"),
            "need longest cooking time < soft_limit",
        ),
        (DISH.replace("[1.0, 2.0]", "[3.0, 2.0]"), "cook_seconds must be [shortest, longest]"),
        (
            DISH.replace("[1.0, 2.0]", "[0, 2.0]"),
            "is invalid: dish 'Toast': Expected `float` > 0.0 - at `$.cook_seconds[0]`",
        ),
        (
            DISH + "colour = 'red'\n",
            "is invalid: dish 'Toast': Object contains unknown field `colour`",
        ),
        (DISH.replace('"grill"', '"Grill"'), "is invalid: dish 'Toast': Expected `str` matching"),
        (
            DISH + "[stations.grill]\ncapacity = 0\n",
            "is invalid: station 'grill': Expected `int` >= 1 - at `$.capacity`",
        ),
    ],
)
def test_bad_menus(text: str, message: str) -> None:
    with pytest.raises(MenuError, match=re.escape(message)):
        parse_menu(text, "test.toml")


def test_a_menu_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "menu.toml"
    path.write_text(DISH)
    monkeypatch.setenv("KITCHEN_MENU", str(path))
    load_menu.cache_clear()
    try:
        assert [dish.name for dish in load_menu().dishes] == ["Toast"]
    finally:
        monkeypatch.delenv("KITCHEN_MENU")
        load_menu.cache_clear()


def test_a_missing_menu_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITCHEN_MENU", str(tmp_path / "none.toml"))
    load_menu.cache_clear()
    try:
        with pytest.raises(MenuError, match=r"cannot read menu .*none\.toml: No such file"):
            load_menu()
    finally:
        monkeypatch.delenv("KITCHEN_MENU")
        load_menu.cache_clear()
