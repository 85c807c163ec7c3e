"""Agents: the workers of a town."""

from __future__ import annotations

from datetime import datetime

import attrs

from tinytown.errors import ConfigError, InvalidInputError
from tinytown.models.enums import AgentState, AgentType, SpawnMode
from tinytown.models.ids import SUPERVISOR, AgentId, TaskId
from tinytown.models.nicknames import nickname_for

RESERVED_NAMES = frozenset({"supervisor", "conductor"})
MAX_NAME_LEN = 64


def is_valid_agent_name(name: str) -> bool:
    """Letters, digits, ``-``, ``_`` and ``.`` only, at most ``MAX_NAME_LEN``, not all dots.

    Names are never used as paths (per-agent files are named by id); the rule
    keeps them safe to show and to pass in an environment variable anyway.
    """
    return (
        0 < len(name) <= MAX_NAME_LEN
        and all(c.isalnum() or c in "-_." for c in name)
        and name.strip(".") != ""
    )


def validate_agent_name(name: str) -> str:
    """Return the trimmed name or raise: empty, too long, reserved, or with odd characters."""
    clean = name.strip()
    if not clean:
        raise InvalidInputError("Agent name must not be empty")
    if clean.lower() in RESERVED_NAMES:
        raise ConfigError(
            f"'{clean.lower()}' is reserved for the well-known supervisor/conductor mailbox"
        )
    if len(clean) > MAX_NAME_LEN:
        raise InvalidInputError(f"Agent name is longer than {MAX_NAME_LEN} characters")
    if not is_valid_agent_name(clean):
        raise InvalidInputError(
            f"Agent name {clean!r} may only contain letters, digits, '-', '_' and '.'"
        )
    return clean


@attrs.define
class Agent:
    """An agent record (``tt:<town>:agent:<id>``, a Redis hash).

    ``incarnation``, ``max_rounds`` and ``host`` are additive fields of this
    implementation: the runtime bumps ``incarnation`` on every (re)start so
    that work meant for a dead incarnation is never applied by a new one.
    """

    id: AgentId
    name: str
    cli: str
    created_at: datetime
    last_heartbeat: datetime
    last_active_at: datetime
    nickname: str | None = None
    role_id: str | None = None
    parent_agent_id: AgentId | None = None
    spawn_mode: SpawnMode = SpawnMode.FRESH
    agent_type: AgentType = AgentType.WORKER
    state: AgentState = AgentState.STARTING
    current_task: TaskId | None = None
    tasks_completed: int = 0
    rounds_completed: int = 0
    incarnation: int = 0
    max_rounds: int | None = None
    host: str | None = None

    @classmethod
    def new(
        cls,
        name: str,
        cli: str,
        now: datetime,
        *,
        role_id: str | None = None,
        parent: AgentId | None = None,
        agent_id: AgentId | None = None,
    ) -> Agent:
        """A fresh worker record as ``tt spawn`` creates it (state ``starting``)."""
        aid = agent_id or AgentId.new()
        return cls(
            id=aid,
            name=name,
            cli=cli,
            created_at=now,
            last_heartbeat=now,
            last_active_at=now,
            nickname=nickname_for(aid.uuid),
            role_id=role_id,
            parent_agent_id=parent,
        )

    @classmethod
    def supervisor(cls, now: datetime) -> Agent:
        return cls(
            id=SUPERVISOR,
            name="supervisor",
            cli="supervisor",
            created_at=now,
            last_heartbeat=now,
            last_active_at=now,
            agent_type=AgentType.SUPERVISOR,
        )

    @property
    def display_name(self) -> str:
        return self.nickname or self.name

    @property
    def role(self) -> str:
        return self.role_id or "default"

    @property
    def label(self) -> str:
        """``Nickname [role]``; with the default role the bracket holds the canonical name."""
        inner = self.name if self.role == "default" else self.role
        return f"{self.display_name} [{inner}]"

    @property
    def short_id(self) -> str:
        return self.id.short

    def matches(self, ref: str) -> bool:
        """Case-insensitive match against name, display name, label or short id (cli.md §0.5)."""
        r = ref.strip().lower()
        return r in (
            self.name.lower(),
            self.display_name.lower(),
            self.label.lower(),
            self.short_id.lower(),
        )
