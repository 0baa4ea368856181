"""`waiter menu`: the dishes and their stations, cooking times and time limits."""

from restaurant.menu import load_menu
from waiter.commands import examples
from waiter.display import console

MENU_EXAMPLES = examples("waiter menu")


def menu() -> None:
    """Show the dishes, their station and its capacity, cooking time and time limits."""
    from rich.table import Table

    table = Table("Dish", "Station", "Capacity", "Cooking time", "Soft limit", "Hard limit")
    the_menu = load_menu()
    for dish in the_menu.dishes:
        shortest, longest = dish.cook_seconds
        capacity = the_menu.stations[dish.station].capacity
        table.add_row(
            dish.name,
            dish.station,
            str(capacity) if capacity else "any",
            f"{shortest:g}-{longest:g} s",
            f"{dish.soft_limit:g} s",
            f"{dish.hard_limit:g} s",
        )
    console().print(table)
