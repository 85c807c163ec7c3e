"""Identifiers: random UUID v4 values, shown as canonical lowercase hyphenated text.

An id holds its canonical text (what every key, JSON document and display
uses); the :class:`uuid.UUID` is derived on demand. Parsing the canonical
form is a regular-expression match, which keeps message decoding cheap.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from typing import Self

import attrs

from tinytown.errors import InvalidInputError

SUPERVISOR_UUID = uuid.UUID("00000000-0000-0000-0000-000000000001")
"""The well-known supervisor/conductor mailbox: sender of every system message."""

SHORT_ID_LEN = 4
CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
_POOL_BYTES = 4096  # 256 ids per read of the OS's random source
_pool = b""
_pos = 0
_pool_lock = threading.Lock()


def _reset_pool() -> None:
    """A forked child must never hand out its parent's ids: it starts with an empty pool."""
    global _pool, _pos, _pool_lock
    _pool, _pos, _pool_lock = b"", 0, threading.Lock()


os.register_at_fork(after_in_child=_reset_pool)


def new_uuid4_text() -> str:
    """A random (version 4) UUID's canonical text, like ``str(uuid.uuid4())``.

    The 16 random bytes come from the OS's random source like ``uuid4``'s, read
    in blocks (one system call per 256 ids instead of one each): ``send_many``
    and bulk task creation mint many ids.
    """
    global _pool, _pos
    with _pool_lock:
        if _pos + 16 > len(_pool):
            _pool, _pos = os.urandom(_POOL_BYTES), 0
        raw = _pool[_pos : _pos + 16]
        _pos += 16
    x = raw.hex()  # version nibble 4, variant bits 10 (RFC 4122), as uuid4 sets them
    return f"{x[:8]}-{x[8:12]}-4{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:]}"


def _canonical_text(text: str, what: str) -> str:
    """The canonical form of any text Python's UUID parser accepts; InvalidInputError else."""
    if isinstance(text, str) and len(text) == 36 and CANONICAL_ID.fullmatch(text):
        return text
    try:
        return str(uuid.UUID(text.strip()))
    except (ValueError, AttributeError, TypeError):
        raise InvalidInputError(f"Invalid {what} id: {text!r} is not a UUID") from None


@attrs.frozen(slots=True, order=True, repr=False)
class _Id:
    text: str
    """The canonical lowercase hyphenated form."""

    _what = "record"

    @classmethod
    def new(cls) -> Self:
        return cls(new_uuid4_text())

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse any form Python's UUID parser accepts; raise InvalidInputError otherwise."""
        return cls(_canonical_text(text, cls._what))

    @property
    def uuid(self) -> uuid.UUID:
        return uuid.UUID(self.text)

    @property
    def short(self) -> str:
        """The first four hex characters, used for display and as an agent reference."""
        return self.text[:SHORT_ID_LEN]

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self.text}')"


class AgentId(_Id):
    """Identity of an agent (or of the supervisor mailbox)."""

    __slots__ = ()
    _what = "agent"

    @classmethod
    def parse(cls, text: str) -> AgentId:
        """Like :meth:`_Id.parse`, memoised: the same few agent ids recur in every message."""
        return _parse_agent_id(text)

    @classmethod
    def supervisor(cls) -> AgentId:
        return SUPERVISOR

    @property
    def is_supervisor(self) -> bool:
        return self.text == SUPERVISOR.text


class TaskId(_Id):
    __slots__ = ()
    _what = "task"


class MessageId(_Id):
    __slots__ = ()
    _what = "message"


SUPERVISOR = AgentId(str(SUPERVISOR_UUID))


_AGENT_IDS: dict[str, AgentId] = {}
_AGENT_IDS_MAX = 4096

known_agent_id = _AGENT_IDS.get
"""The AgentId already parsed from exactly this text, or None (a plain dict look-up:
message decoding tries it first, as the same few agent ids recur in every message)."""


def _parse_agent_id(text: str) -> AgentId:
    agent = _AGENT_IDS.get(text)
    if agent is None:
        agent = AgentId(_canonical_text(text, "agent"))
        if len(_AGENT_IDS) >= _AGENT_IDS_MAX:
            _AGENT_IDS.clear()  # bounded memo, never a leak
        _AGENT_IDS[text] = agent
    return agent
