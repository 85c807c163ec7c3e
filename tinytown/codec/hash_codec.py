"""Agents and tasks as Redis hash fields (data-model §3.2, §4.2).

Writing: every present field as text, timestamps in the ``+00:00`` form, and
the list of empty optional fields to ``HDEL``. Reading is lenient exactly as
tinytown 0.10: a bad optional becomes none, a bad timestamp ``now``, a bad
counter 0, an unknown state the default; only a missing or invalid ``id``
makes the record corrupt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final, TypeVar

import orjson

from tinytown.codec.timestamps import hash_ts, parse_ts
from tinytown.errors import CorruptRecordError, InvalidInputError
from tinytown.models import (
    Agent,
    AgentId,
    AgentState,
    AgentType,
    SpawnMode,
    Task,
    TaskId,
    TaskState,
    is_valid_agent_name,
)

AGENT_OPTIONAL_FIELDS = ("current_task", "nickname", "role_id", "parent_agent_id")
# ``max_rounds`` and ``host`` are ours (additive); ``incarnation`` is always written.
AGENT_OPTIONAL_FIELDS_EXT = (*AGENT_OPTIONAL_FIELDS, "max_rounds", "host")
TASK_OPTIONAL_FIELDS = ("assigned_to", "started_at", "completed_at", "result", "parent_id")

T = TypeVar("T")


def field_text(value: object) -> str:
    """One hash field value as text: timestamps ``+00:00``, enums by value, the rest ``str``."""
    if isinstance(value, datetime):
        return hash_ts(value)
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def queue_hash_write(pipe: Any, key: str, fields: Mapping[str, str], empty: list[str]) -> None:
    """Queue 0.10's record write on a pipeline: HDEL the empty optionals, one HSET."""
    if empty:
        pipe.cmd("HDEL", key, *empty)
    pipe.cmd("HSET", key, *[x for pair in fields.items() for x in pair])


def _present(fields: dict[str, str], empty: list[str], name: str, value: object) -> None:
    if value is None:
        empty.append(name)
    else:
        fields[name] = field_text(value)


def agent_to_hash(agent: Agent) -> tuple[dict[str, str], list[str]]:
    """Return ``(fields to HSET, optional fields to HDEL)``, in 0.10's field order."""
    fields = {
        "id": str(agent.id),
        "name": agent.name,
        "agent_type": agent.agent_type.value,
        "state": agent.state.value,
        "cli": agent.cli,
        "created_at": hash_ts(agent.created_at),
        "last_heartbeat": hash_ts(agent.last_heartbeat),
        "tasks_completed": str(agent.tasks_completed),
        "rounds_completed": str(agent.rounds_completed),
        "last_active_at": hash_ts(agent.last_active_at),
        "spawn_mode": agent.spawn_mode.value,
        "incarnation": str(agent.incarnation),
    }
    empty: list[str] = []
    for name in AGENT_OPTIONAL_FIELDS_EXT:
        _present(fields, empty, name, getattr(agent, name))
    return fields, empty


def task_to_hash(task: Task) -> tuple[dict[str, str], list[str]]:
    """Return ``(fields to HSET, optional fields to HDEL)``, in 0.10's field order."""
    fields = {
        "id": str(task.id),
        "description": task.description,
        "state": task.state.value,
        "created_at": hash_ts(task.created_at),
        "updated_at": hash_ts(task.updated_at),
        "tags": orjson.dumps(list(task.tags)).decode(),
    }
    empty: list[str] = []
    for name in TASK_OPTIONAL_FIELDS:
        _present(fields, empty, name, getattr(task, name))
    return fields, empty


# --- reading -----------------------------------------------------------------------


def _try(parse: Callable[[str], T], value: str | None) -> T | None:
    if value is None:
        return None
    try:
        return parse(value)
    except (ValueError, InvalidInputError):
        return None


def _count(value: str | None) -> int:
    parsed = _try(int, value)
    return parsed if parsed is not None and parsed >= 0 else 0


def _record_id(fields: Mapping[str, str], where: str, parse: Callable[[str], T]) -> T:
    raw = fields.get("id")
    if raw is None:
        raise CorruptRecordError(where, "missing id field")
    try:
        return parse(raw)
    except InvalidInputError:
        raise CorruptRecordError(where, f"invalid id {raw!r}") from None


def _agent_name(fields: Mapping[str, str], where: str) -> str:
    # A name read from Redis is checked like one typed by a user (issue 10): a
    # record named "../../x" or with control characters is corrupt. Missing: "".
    name = fields.get("name", "")
    if name and not is_valid_agent_name(name):
        raise CorruptRecordError(where, f"invalid agent name {name[:80]!r}")
    return name


def agent_from_hash(fields: Mapping[str, str], where: str = "agent", *,
                    now: datetime | None = None) -> Agent:
    """Decode an agent hash (``HGETALL`` result, non-empty)."""
    now = now or datetime.now(UTC)
    created = _try(parse_ts, fields.get("created_at")) or now
    max_rounds = _try(int, fields.get("max_rounds"))
    return Agent(
        id=_record_id(fields, where, AgentId.parse),
        name=_agent_name(fields, where),
        cli=fields.get("cli", ""),
        created_at=created,
        last_heartbeat=_try(parse_ts, fields.get("last_heartbeat")) or now,
        last_active_at=_try(parse_ts, fields.get("last_active_at")) or created,
        nickname=fields.get("nickname"),
        role_id=fields.get("role_id"),
        parent_agent_id=_try(AgentId.parse, fields.get("parent_agent_id")),
        spawn_mode=_try(SpawnMode, fields.get("spawn_mode")) or SpawnMode.FRESH,
        agent_type=_try(AgentType, fields.get("agent_type")) or AgentType.WORKER,
        state=_try(AgentState, fields.get("state")) or AgentState.STARTING,
        current_task=_try(TaskId.parse, fields.get("current_task")),
        tasks_completed=_count(fields.get("tasks_completed")),
        rounds_completed=_count(fields.get("rounds_completed")),
        incarnation=_count(fields.get("incarnation")),
        max_rounds=max_rounds,
        host=fields.get("host"),
    )


# Stored state texts: 0.10 also wrote "in_flight" for running (unknown or missing: pending).
TASK_STATE_TEXTS: Final = {s.value: s for s in TaskState} | {"in_flight": TaskState.RUNNING}


def task_state(text: str | None) -> TaskState:
    """A task's state from its stored text (the one reading: records and status summaries)."""
    return TASK_STATE_TEXTS.get(text or "", TaskState.PENDING)


def _tags(value: str | None) -> list[str]:
    parsed = _try(orjson.loads, value)
    if isinstance(parsed, list) and all(isinstance(t, str) for t in parsed):
        return parsed
    return []


def _when(text: str | None) -> datetime | None:
    return _try(parse_ts, text)


def task_from_hash(fields: Mapping[str, str], where: str = "task", *,
                   now: datetime | None = None,
                   when: Callable[[str | None], datetime | None] = _when) -> Task:
    """Decode a task hash (``HGETALL`` result, non-empty).

    ``when`` reads a timestamp field as ``_try(parse_ts, ...)`` does (a caller
    decoding many records passes a memo of it); None: absent or unreadable.
    """
    now = now or datetime.now(UTC)
    return Task(
        id=_record_id(fields, where, TaskId.parse),
        description=fields.get("description", ""),
        state=task_state(fields.get("state")),
        created_at=when(fields.get("created_at")) or now,
        updated_at=when(fields.get("updated_at")) or now,
        assigned_to=_try(AgentId.parse, fields.get("assigned_to")),
        started_at=when(fields.get("started_at")),
        completed_at=when(fields.get("completed_at")),
        result=fields.get("result"),
        parent_id=_try(TaskId.parse, fields.get("parent_id")),
        tags=_tags(fields.get("tags")),
    )


def pairs_to_dict(reply: Any) -> dict[str, str]:
    """HGETALL replies arrive as a flat list in RESP2; turn them into a dict."""
    if isinstance(reply, dict):
        return reply
    it = iter(reply or ())
    return dict(zip(it, it, strict=True))
