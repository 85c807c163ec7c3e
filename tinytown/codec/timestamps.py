"""RFC 3339 timestamps in the two textual forms of tinytown 0.10.

JSON documents use a ``Z`` suffix, Redis hash fields ``+00:00``. Readers accept
any offset and 0-9 fractional digits (sub-microsecond digits are dropped:
Python datetimes hold microseconds).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_FRACTION = re.compile(r"\.(\d+)")
_fromisoformat = datetime.fromisoformat


def hash_ts(dt: datetime) -> str:
    """``2026-04-20T18:22:15.123456+00:00`` (fraction omitted when zero)."""
    return (dt if dt.tzinfo is UTC else dt.astimezone(UTC)).isoformat()


def json_ts(dt: datetime) -> str:
    """``2026-04-20T18:22:15.123456Z`` (fraction omitted when zero)."""
    text = (dt if dt.tzinfo is UTC else dt.astimezone(UTC)).isoformat()
    return text[:-6] + "Z"


def parse_ts(text: str) -> datetime:
    """Parse an RFC 3339 timestamp into an aware UTC datetime; ValueError if it is not one."""
    if type(text) is str and len(text) == 27 and text[26] == "Z" and text[10] == "T":
        # The form every message we write carries (6 digits, Z): checked first.
        dt = _fromisoformat(text)
        return dt if dt.tzinfo is UTC else dt.astimezone(UTC)
    if not isinstance(text, str) or len(text) < 19 or text[10] not in "Tt ":
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    n = len(text)
    if text[10] == "T" and (
        (n in (20, 27) and text[-1] == "Z") or (n in (25, 32) and text[-6:] == "+00:00")
    ):
        # Fast path for the forms we write ourselves (whole seconds or 6 digits; Z or +00:00).
        dt = datetime.fromisoformat(text)
        return dt if dt.tzinfo is UTC else dt.astimezone(UTC)
    if "." in text:
        # fromisoformat wants 1-6 digits on some versions; keep at most 6.
        text = _FRACTION.sub(lambda m: "." + m.group(1)[:6], text, count=1)
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError(f"timestamp without offset: {text!r}")
    return dt.astimezone(UTC)
