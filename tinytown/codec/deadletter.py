"""JSON of dead-letter entries (``{"reason", "at", "message"}``); corrupt entries are reported."""

from __future__ import annotations

import json

from tinytown.codec.timestamps import json_ts, parse_ts
from tinytown.errors import CorruptRecordError
from tinytown.models.deadletter import DeadLetter


def deadletter_to_json(entry: DeadLetter) -> str:
    return json.dumps(
        {"reason": entry.reason, "at": json_ts(entry.at), "message": entry.message},
        separators=(",", ":"), ensure_ascii=False,
    )


def deadletter_from_json(text: str, where: str = "dead letter") -> DeadLetter:
    """Decode one entry; any defect raises CorruptRecordError naming ``where``."""
    try:
        data = json.loads(text)
        return DeadLetter(str(data["reason"]), parse_ts(data["at"]), str(data["message"]))
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise CorruptRecordError(where, f"{type(exc).__name__}: {exc}") from None
