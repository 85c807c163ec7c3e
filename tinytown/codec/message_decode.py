"""Decoding a message: the path of every message received, kept short.

The common cases are inlined (a canonical id, an agent id seen before, a kind
with one text field, a timestamp as we write it) and the ``Message``, its id
and its kind are built slot by slot (:mod:`tinytown.codec.slots`); anything
else goes the general way of :mod:`tinytown.codec.json_codec`. The result is
the same ``Message``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from tinytown.codec.json_codec import _PRIORITIES, _SINGLE_TEXT, _loads_object, kind_from_dict
from tinytown.codec.slots import Setter, slot_setters
from tinytown.codec.timestamps import parse_ts
from tinytown.errors import CorruptRecordError
from tinytown.models import AgentId, Message, MessageId, Priority
from tinytown.models.ids import CANONICAL_ID, known_agent_id

_SINGLE_BY_TAG: dict[str, tuple[type[Any], str, Setter]] = {
    getattr(c, "TAG"): (c, name, slot_setters(c, (name,))[0])  # noqa: B009
    for c, name in _SINGLE_TEXT.items()
}
_set_from, _set_to, _set_kind, _set_priority, _set_id, _set_created_at, _set_corr = slot_setters(
    Message, ("from_", "to", "kind", "priority", "id", "created_at", "correlation_id")
)
(_set_id_text,) = slot_setters(MessageId, ("text",))
_new = object.__new__
_known_agent = known_agent_id
_canonical_id = CANONICAL_ID.fullmatch
_orjson_loads = orjson.loads
_fromisoformat = datetime.fromisoformat


def message_from_json(text: str | bytes, where: str = "message") -> Message:
    """Decode a message; any defect raises CorruptRecordError naming ``where``."""
    try:
        data = _orjson_loads(text)
    except (orjson.JSONDecodeError, RecursionError):
        data = None
    if type(data) is not dict:
        data = _loads_object(text, where)  # raises the CorruptRecordError that says why
    try:
        # Every message is decoded here: the common cases are inlined (a
        # canonical id, an agent id seen before, a kind with one text field, a
        # timestamp as we write it), fields in wire order.
        raw_id = data["id"]
        if type(raw_id) is str and len(raw_id) == 36 and _canonical_id(raw_id):
            mid = _new(MessageId)
            _set_id_text(mid, raw_id)
        else:
            mid = MessageId.parse(raw_id)
        raw = data["from"]
        from_ = _known_agent(raw) or AgentId.parse(raw)
        raw = data["to"]
        to = _known_agent(raw) or AgentId.parse(raw)
        single = _SINGLE_BY_TAG.get(data.get("type"))
        if single is not None and type(value := data.get(single[1])) is str:
            kind = _new(single[0])
            single[2](kind, value)
        else:
            kind = kind_from_dict(data)
        priority = _PRIORITIES.get(data.get("priority", "normal")) or Priority(data["priority"])
        at = data["created_at"]
        if type(at) is str and len(at) == 27 and at[26] == "Z" and at[10] == "T":
            created_at = _fromisoformat(at)  # parse_ts's first case, inlined
            if created_at.tzinfo is not UTC:
                created_at = created_at.astimezone(UTC)
        else:
            created_at = parse_ts(at)
        corr = data.get("correlation_id")
        corr_id = None if corr is None else MessageId.parse(corr)
    except Exception as exc:  # every decoding defect is the same kind of corruption
        raise CorruptRecordError(where, f"{type(exc).__name__}: {exc}") from None
    message = _new(Message)
    _set_from(message, from_)
    _set_to(message, to)
    _set_kind(message, kind)
    _set_priority(message, priority)
    _set_id(message, mid)
    _set_created_at(message, created_at)
    _set_corr(message, corr_id)
    return message
