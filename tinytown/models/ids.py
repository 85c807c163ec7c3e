"""Identifiers: random UUID v4 values, shown as canonical lowercase hyphenated text."""

from __future__ import annotations

import uuid
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


@attrs.frozen(slots=True, order=True, repr=False)
class _Id:
    uuid: uuid.UUID

    _what = "record"

    @classmethod
    def new(cls) -> Self:
        return cls(uuid.uuid4())

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse any form Python's UUID parser accepts; raise InvalidInputError otherwise."""
        return cls(_parse_uuid(text, cls._what))

    @property
    def short(self) -> str:
        """The first four hex characters, used for display and as an agent reference."""
        return str(self.uuid)[:SHORT_ID_LEN]

    def __str__(self) -> str:
        return str(self.uuid)

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self.uuid}')"


class AgentId(_Id):
    """Identity of an agent (or of the supervisor mailbox)."""

    __slots__ = ()
    _what = "agent"

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
