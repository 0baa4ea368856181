"""Celery's task and event messages as kombu's Redis transport stores them, built without Celery.

The documents below mirror, step by step, what `app.send_task` stores on a Redis broker
(celery 5.7, kombu 5.7): `amqp.as_task_v2` (headers, properties, body), `Producer.publish`
(JSON, delivery mode), `Channel.prepare_message` and `_inplace_augment_message` (base64 body,
delivery tag and info), and `EventDispatcher.publish` for Flower's `task-sent` event.
tests/test_wire_contract.py sends the same order both ways and compares them field by field.

Each document is dumped to JSON once, with holes where a message's own values go; a message is
then a join of strings, about ten times cheaper than building and dumping it whole.
"""

import base64
import json
import os
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from json.encoder import encode_basestring_ascii as _quote
from typing import Any, Final

#: Celery's `task_default_delivery_mode` ("persistent") as AMQP's number.
PERSISTENT: Final = 2
#: `EventDispatcher`'s delivery mode for events: transient.
TRANSIENT: Final = 1
#: Celery's `event_exchange`: a fanout exchange on Redis.
EVENT_EXCHANGE: Final = "celeryev"
#: The routing key of a `task-sent` event (its type with '.' for '-').
TASK_SENT_KEY: Final = "task.sent"
#: kombu's separator inside a queue binding ("<routing key><sep><pattern><sep><queue>").
BINDING_SEP: Final = "\x06\x16"
#: kombu's set of an exchange's bindings, and the copy its binding sweep never deletes.
BINDING_KEYS: Final = ("_kombu.binding.{exchange}", "_kombu.binding_permanent.{exchange}")
#: `amqp.kwargsrepr_maxsize`: the longest `kwargsrepr` header, as `saferepr` cuts it.
REPR_MAXSIZE: Final = 1024

#: The embedded options of a task body: `as_task_v2` with no callbacks, chain or chord.
_EMBED: Final = '{"callbacks": null, "errbacks": null, "chain": null, "chord": null}'
#: A hole in a document: a string value naming what goes there.
_HOLE = re.compile(r'"@(\w+)@"')


def _hole(name: str) -> str:
    return f"@{name}@"


def _envelope(body: str, headers: Any, properties: dict[str, Any], exchange: str, key: str) -> Any:
    """kombu's Redis envelope: `prepare_message`, then `_inplace_augment_message`."""
    return {
        "body": body,
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {
            **properties,
            "delivery_info": {"exchange": exchange, "routing_key": key},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": _hole("delivery_tag"),
        },
    }


#: A task message (`as_task_v2` headers and properties, sent to the anonymous exchange, so
#: that the routing key is the queue itself).
_TASK = _envelope(
    _hole("body"),
    {
        "lang": "py",
        "task": _hole("task"),
        "id": _hole("id"),
        "shadow": None,
        "eta": None,
        "expires": None,
        "group": None,
        "group_index": None,
        "retries": 0,
        "timelimit": [None, None],
        "root_id": _hole("id"),
        "parent_id": None,
        "argsrepr": "()",
        "kwargsrepr": _hole("kwargsrepr"),
        "origin": _hole("origin"),
        # send_task passes the task's ignore_result: None for a task it does not know.
        "ignore_result": None,
        "replaced_task_nesting": 0,
        "stamped_headers": None,
        "stamps": {},
    },
    {"correlation_id": _hole("id"), "reply_to": _hole("reply_to"), "delivery_mode": PERSISTENT},
    exchange="",
    key=_hole("queue"),
)

#: The `task-sent` event's fields, in the order `EventDispatcher` writes them.
_EVENT_BODY = {
    "hostname": _hole("hostname"),
    "utcoffset": _hole("utcoffset"),
    "pid": _hole("pid"),
    "clock": _hole("clock"),
    "uuid": _hole("id"),
    "root_id": _hole("id"),
    "parent_id": None,
    "name": _hole("task"),
    "args": "()",
    "kwargs": _hole("kwargsrepr"),
    "retries": 0,
    "eta": None,
    "expires": None,
    "queue": _hole("queue"),
    "exchange": "",
    "routing_key": _hole("queue"),
    "timestamp": _hole("timestamp"),
    "type": "task-sent",
}

#: The event's envelope: published on the `celeryev` fanout exchange.
_EVENT = _envelope(
    _hole("body"),
    {"hostname": _hole("hostname")},
    {"delivery_mode": TRANSIENT},
    exchange=EVENT_EXCHANGE,
    key=TASK_SENT_KEY,
)


class _Template:
    """A JSON document with holes, dumped once; `fill` puts in each hole's JSON value."""

    def __init__(self, document: Any, **fixed: Any) -> None:
        text = json.dumps(document).replace("{", "{{").replace("}", "}}")
        for name, value in fixed.items():
            escaped = json.dumps(value).replace("{", "{{").replace("}", "}}")
            text = text.replace(f'"{_hole(name)}"', escaped)
        self.format = _HOLE.sub(r"{\1}", text)

    def fill(self, **values: str) -> str:
        """The document with each remaining hole replaced by its value, given as JSON text."""
        return self.format.format(**values)


class TaskMessages:
    """Encodes one program's task messages and `task-sent` events for one task name."""

    def __init__(self, task: str, hostname: str, reply_to: str) -> None:
        self.task = _Template(_TASK, task=task, origin=origin(), reply_to=reply_to)
        self.event_body = _Template(_EVENT_BODY, task=task, hostname=hostname, pid=os.getpid())
        self.event = _Template(_EVENT, hostname=hostname)

    def message(self, task_id: str, kwargs: Mapping[str, Any], queue: str) -> tuple[str, str]:
        """The task message, and the JSON of its `kwargsrepr` header (the event needs it)."""
        kwargsrepr = _quote(kwargs_repr(kwargs))
        message = self.task.fill(
            body=_b64(f"[[], {json.dumps(kwargs)}, {_EMBED}]"),
            id=_quote(task_id),
            kwargsrepr=kwargsrepr,
            queue=_quote(queue),
            delivery_tag=_tag(),
        )
        return message, kwargsrepr

    def sent_event(
        self, task_id: str, kwargsrepr: str, queue: str, clock: int, offset: float
    ) -> str:
        """The `task-sent` event of a message, with the dispatcher's clock and UTC offset."""
        body = self.event_body.fill(
            utcoffset=repr(offset),
            clock=str(clock),
            id=_quote(task_id),
            kwargsrepr=kwargsrepr,
            queue=_quote(queue),
            timestamp=repr(time.time()),
        )
        return self.event.fill(body=_b64(body), delivery_tag=_tag())


def origin() -> str:
    """Celery's `anon_nodename()`: the name of a process that is not a worker."""
    return f"gen{os.getpid()}@{socket.gethostname()}"


def reply_to(sender: object) -> str:
    """An id made like Celery's `app.thread_oid` (kombu's `oid_from`) for this thread."""
    entity = f"{_NODE_ID:x}-{os.getpid():x}-{threading.get_ident():x}-{id(sender):x}"
    return str(uuid.uuid3(uuid.NAMESPACE_OID, entity))


#: kombu's `get_node_id()`: a random number drawn once per process.
_NODE_ID: Final = uuid.uuid4().int


def event_topic(db: int) -> str:
    """The pub/sub channel of `task-sent` events: kombu's fanout prefix, exchange and key."""
    return f"/{db}.{EVENT_EXCHANGE}/{TASK_SENT_KEY}"


def binding(queue: str) -> str:
    """The member that declaring a queue adds to its exchange's binding sets."""
    return BINDING_SEP.join([queue, "", queue])


def utcoffset() -> float:
    """Celery's `utcoffset()`: hours west of UTC now."""
    if time.localtime().tm_isdst:
        return time.altzone / 3600
    return time.timezone / 3600


def _b64(text: str) -> str:
    """The text's UTF-8 in base64, as JSON (base64 needs no escaping)."""
    return '"' + base64.b64encode(text.encode("utf-8")).decode("ascii") + '"'


def _tag() -> str:
    """A delivery tag shaped as kombu makes it (a random version 4 UUID), as JSON.

    A tag only has to be unique among unacknowledged messages, not unguessable: drawn from
    Python's generator (seeded from the system's), not one system call per tag like uuid4.
    """
    text = f"{_TAGS.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET:032x}"
    return f'"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"'


_TAGS: Final = random.Random()
#: The bits of a UUID's variant and version fields, and their values for version 4.
_UUID4_CLEAR: Final = ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET: Final = (0x8000 << 48) | (4 << 76)


def kwargs_repr(kwargs: Mapping[str, Any], maxlen: int = REPR_MAXSIZE) -> str:
    """Celery's `saferepr(kwargs, 1024)` for a flat mapping of text, numbers and None."""
    pieces = []
    for key, value in kwargs.items():
        if isinstance(value, str):
            shown = "'" + value.replace("'", "\\'") + "'"
        elif value is None or isinstance(value, bool | int | float):
            shown = str(value)
        else:
            raise TypeError(f"cannot represent {type(value).__name__} like Celery's saferepr")
        pieces.append("'" + key.replace("'", "\\'") + "': " + shown)
    whole = "{" + ", ".join(pieces)
    if len(whole) < maxlen:
        # Short enough that saferepr cuts nothing.
        return whole + "}"
    # Too long: saferepr cuts each piece to what is left of `maxlen`, then stops with ", ...".
    tokens: list[tuple[str, Any]] = [("literal", "{")]
    for number, (key, value) in enumerate(kwargs.items()):
        if number:
            tokens.append(("literal", ", "))
        tokens += [("text", key), ("literal", ": "), ("value", value)]
    parts: list[str] = []
    left = maxlen
    for kind, value in tokens:
        if left <= 0:
            parts.append(", ...")
            break
        if kind == "literal":
            text = value
        elif kind == "text":
            text = _text_repr(value, left)
        else:
            text = _value_repr(value, left)
        parts.append(text)
        left -= len(text)
    return "".join(parts) + "}"


def _value_repr(value: Any, maxlen: int) -> str:
    if isinstance(value, str):
        return _text_repr(value, maxlen)
    if value is None:
        return _truncate("None", maxlen)
    if isinstance(value, bool | int | float):
        return _truncate(str(value), maxlen)
    raise TypeError(f"cannot represent {type(value).__name__} like Celery's saferepr")


def _text_repr(text: str, maxlen: int) -> str:
    """saferepr of text: single quotes, only quotes escaped."""
    return "'" + _truncate(text, maxlen).replace("'", "\\'") + "'"


def _truncate(text: str, maxlen: int) -> str:
    """Celery's `truncate`: cut at the last space before `maxlen` and add '...'."""
    if maxlen and len(text) >= maxlen:
        return text[:maxlen].rsplit(" ", 1)[0] + "..."
    return text
