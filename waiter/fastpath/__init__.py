"""The waiter's direct path to a plain redis:// broker, used instead of Celery's `send_task`.

When the settings allow it (`send.applies`), the waiter writes to Redis what Celery would:
protocol-2 task messages as `app.send_task` stores them, in kombu's Redis transport envelope,
with kombu's queue bindings and Flower's `task-sent` events (`wire` builds them, `send` pushes
them a transaction per batch). `relay` keeps one pipeline in flight on a thread while the next
is built (placing runs the ledger's batches through it too).

tests/test_wire_contract.py holds it to Celery's own messages: it sends the same order both
ways and compares them field by field. tests/test_relay.py tests the relay.
"""
