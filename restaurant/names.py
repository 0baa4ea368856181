"""Names shared by the waiter and the kitchen: tasks, queues and key prefixes."""

from typing import Final

#: The task that cooks one dish; the waiter sends it by this name only.
PREPARE_DISH: Final = "kitchen.prepare_dish"

#: Every task name the waiter may send; the contract test checks the kitchen registers each.
TASKS_SENT_BY_WAITER: Final = (PREPARE_DISH,)

#: The queue orders wait in until a cook takes them.
ORDERS_QUEUE: Final = "orders"
