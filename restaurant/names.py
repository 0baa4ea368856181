"""Names shared by the waiter and the kitchen: tasks, queues and key prefixes."""

from typing import Final

#: The task that cooks one dish; the waiter sends it by this name only.
PREPARE_DISH: Final = "kitchen.prepare_dish"

#: Every task name the waiter may send; the contract test checks the kitchen registers each.
TASKS_SENT_BY_WAITER: Final = (PREPARE_DISH,)

#: The default queue: messages sent without a station (the kitchen still serves it).
ORDERS_QUEUE: Final = "orders"
#: Each station's orders wait in the queue named after the station ("grill"); its rush orders
#: in the queue of that name with this suffix ("grill.rush"), which cooks consume first.
RUSH_SUFFIX: Final = ".rush"

# --- Held orders and station leases (keys in the result backend's Redis database) ------------
#: Sorted set of order ids held until a time, scored by when they fire.
HELD_KEY: Final = "restaurant:held"
#: Hash of held orders: order id -> JSON of what to send when it fires (task, queue, kwargs).
HELD_ORDERS_KEY: Final = "restaurant:held:orders"
#: Set of the order ids of one table's course, held until `waiter fire`.
COURSE_KEY: Final = "restaurant:course:{table}:{course}"
#: Sorted set of the dishes cooking at a station: order id scored by when its lease expires.
LEASES_KEY: Final = "restaurant:station:{station}:leases"

# --- The order ledger (keys in the result backend's Redis database) ---------------------------
#: Prefix of every ledger key, so that the restaurant's keys are easy to find and to delete.
LEDGER_PREFIX: Final = "restaurant:"
#: Hash holding an order's current state.
ORDER_KEY: Final = LEDGER_PREFIX + "order:{order_id}"
#: List of an order's events, oldest first: its history.
HISTORY_KEY: Final = LEDGER_PREFIX + "order:{order_id}:history"
#: Sorted set of open (unfinished) order ids, scored by the time they were created.
OPEN_KEY: Final = LEDGER_PREFIX + "open"
#: Prefix of the per-table sorted sets of open order ids; the table number follows.
TABLE_OPEN_PREFIX: Final = LEDGER_PREFIX + "open:table:"
#: Sorted set of recently active order ids, scored by the time of their latest event.
RECENT_KEY: Final = LEDGER_PREFIX + "recent"
#: Sorted set of the ids of orders that failed for good, scored by when they failed.
DEAD_INDEX_KEY: Final = LEDGER_PREFIX + "dead"
#: Hash of dead letters: order id -> JSON (what the order was, why it failed, its attempts).
DEAD_LETTERS_KEY: Final = LEDGER_PREFIX + "dead:letters"
#: The lease of the cook working on an order: only its holder cooks it.
COOK_LEASE_KEY: Final = LEDGER_PREFIX + "order:{order_id}:cook"
#: The lease of the waiter sending an order's message, so that two never both send it.
SENDING_KEY: Final = LEDGER_PREFIX + "order:{order_id}:sending"

# --- Order events (Redis pub/sub) --------------------------------------------------------------
#: Pub/sub channels are server-wide, not per database, so their names carry the database number
#: (as kombu's fanout does) and two restaurants on one Redis server never hear each other.
CHANNEL_PREFIX: Final = "restaurant:{db}:events:"
#: Every event of every order.
ALL_CHANNEL: Final = CHANNEL_PREFIX + "all"
#: Events of one table's orders.
TABLE_CHANNEL: Final = CHANNEL_PREFIX + "table:{table}"
#: Events of one order.
ORDER_CHANNEL: Final = CHANNEL_PREFIX + "order:{order_id}"

# --- Tickets: one table's order, cooked at several stations, served at the pass ----------------
#: Hash of one ticket: number, table, status (open, ready, served) and when each came.
TICKET_KEY: Final = LEDGER_PREFIX + "ticket:{ticket_id}"
#: List of a ticket's order ids, in the order they were placed.
TICKET_DISHES_KEY: Final = LEDGER_PREFIX + "ticket:{ticket_id}:dishes"
#: Hash of a ticket's order id -> that order as a screen shows it (JSON), kept by the ledger.
TICKET_SCREENS_KEY: Final = LEDGER_PREFIX + "ticket:{ticket_id}:screens"
#: Hash of ticket number -> the newest ticket id with that number.
TICKET_NUMBERS_KEY: Final = LEDGER_PREFIX + "tickets:numbers"
#: The day's ticket counter (numbers start at 1 each day); the day (YYYYMMDD) follows.
TICKET_COUNTER_PREFIX: Final = LEDGER_PREFIX + "tickets:counter:"
#: Sorted set of tickets not yet served (open or ready), scored by when they were sent.
TICKETS_OPEN_KEY: Final = LEDGER_PREFIX + "tickets:open"
#: Sorted set of served tickets, scored by when they were served.
TICKETS_SERVED_KEY: Final = LEDGER_PREFIX + "tickets:served"
#: Sorted set of one day's tickets, scored by when they were sent; the day (YYYYMMDD) follows.
TICKETS_DAY_PREFIX: Final = LEDGER_PREFIX + "tickets:day:"
#: Sorted sets of a station's cook times ("<order id>:<seconds>") and ticket times
#: ("<ticket id>:<seconds>"), scored by when they ended; the station's name follows.
SPEED_COOK_PREFIX: Final = LEDGER_PREFIX + "speed:cook:"
SPEED_TICKET_PREFIX: Final = LEDGER_PREFIX + "speed:ticket:"

# --- The event log ---------------------------------------------------------------------------
#: A capped Redis Stream of every order and ticket event, written in the same atomic step as
#: the ledger and its pub/sub message: its entry ids let a reader resume exactly where it left.
EVENT_LOG_KEY: Final = LEDGER_PREFIX + "log"
#: Events of every ticket (pub/sub).
TICKETS_CHANNEL: Final = CHANNEL_PREFIX + "tickets"
