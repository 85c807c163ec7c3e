"""Identifiers: random UUID v4 values, shown as canonical lowercase hyphenated text."""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Self

import attrs

from tinytown.errors import InvalidInputError

SUPERVISOR_UUID = uuid.UUID("00000000-0000-0000-0000-000000000001")
"""The well-known supervisor/conductor mailbox: sender of every system message."""

SHORT_ID_LEN = 4


def _parse_uuid(text: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(text.strip())
    except (ValueError, AttributeError, TypeError):
        raise InvalidInputError(f"Invalid {what} id: {text!r} is not a UUID") from None


def _is_canonical(text: str) -> bool:
    """Already the lowercase hyphenated form (given it parsed as a UUID)?"""
    return (
        len(text) == 36
        and text[8] == text[13] == text[18] == text[23] == "-"
        and text == text.lower()
    )


@attrs.frozen(slots=True, order=True, repr=False)
class _Id:
    uuid: uuid.UUID
    # The canonical text, computed once: ids are rendered on every message encode.
    text: str = attrs.field(kw_only=True, eq=False, order=False, hash=False, repr=False)

    _what = "record"

    @text.default
    def _canonical(self) -> str:
        return str(self.uuid)

    @classmethod
    def new(cls) -> Self:
        return cls(uuid.uuid4())

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse any form Python's UUID parser accepts; raise InvalidInputError otherwise."""
        value = _parse_uuid(text, cls._what)
        if _is_canonical(text):
            return cls(value, text=text)
        return cls(value)

    @property
    def short(self) -> str:
        """The first four hex characters, used for display and as an agent reference."""
        return self.text[:SHORT_ID_LEN]

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self.uuid}')"


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
        return self.uuid == SUPERVISOR_UUID


class TaskId(_Id):
    __slots__ = ()
    _what = "task"


class MessageId(_Id):
    __slots__ = ()
    _what = "message"


SUPERVISOR = AgentId(SUPERVISOR_UUID)


@lru_cache(maxsize=4096)
def _parse_agent_id(text: str) -> AgentId:
    value = _parse_uuid(text, "agent")
    if _is_canonical(text):
        return AgentId(value, text=text)
    return AgentId(value)
