"""JSON wire formats: messages, events and the legacy JSON agent/task records.

Compact separators, literal UTF-8, keys in the order of data-model.md so the
bytes match tinytown 0.10. Unknown fields are ignored on input.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
import orjson

from tinytown.codec.timestamps import json_ts, parse_ts
from tinytown.errors import CorruptRecordError
from tinytown.models import (
    Agent,
    AgentId,
    AgentState,
    AgentType,
    ConfirmationType,
    Event,
    EventType,
    Message,
    MessageType,
    Priority,
    SpawnMode,
    Task,
    TaskId,
    TaskState,
)
from tinytown.models.message import AckKind, MessageKind

_KIND_BY_TAG: dict[str, type[Any]] = {getattr(c, "TAG"): c for c in MessageType.ALL}  # noqa: B009
_ACK_BY_TAG: dict[str, type[Any]] = {getattr(c, "TAG"): c for c in ConfirmationType.ALL}  # noqa: B009
# Field names of every variant, in declaration order (the wire order of tinytown 0.10).
_FIELDS: dict[type[Any], tuple[str, ...]] = {
    c: tuple(f.name for f in attrs.fields(c)) for c in (*MessageType.ALL, *ConfirmationType.ALL)
}
_REQUIRED: dict[type[Any], frozenset[str]] = {
    c: frozenset(f.name for f in attrs.fields(c) if f.default is attrs.NOTHING) for c in _FIELDS
}


def _dumps(value: Any) -> str:
    """Compact JSON with literal UTF-8: the bytes tinytown 0.10 (serde_json) writes."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # outside orjson's range (e.g. integers beyond 64 bits): same text via json
        import json

        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _loads_object(text: str | bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise CorruptRecordError(what, f"invalid JSON ({exc})") from None
    except RecursionError:  # e.g. 10,000 nested arrays: poison, never a crash
        raise CorruptRecordError(what, "invalid JSON (nested too deeply)") from None
    if not isinstance(value, dict):
        raise CorruptRecordError(what, "JSON is not an object")
    return value


# Kinds whose only field is one required string: decoded by a direct constructor call.
_SINGLE_TEXT: dict[type[Any], str] = {
    c: names[0] for c, names in _FIELDS.items()
    if len(names) == 1 and names[0] in _REQUIRED[c] and names[0] != "ack_type"
}
_PRIORITIES: dict[str, Priority] = {p.value: p for p in Priority}


def _kind_fields(kind: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _FIELDS[type(kind)]:
        value = getattr(kind, name)
        if name == "ack_type":
            value = {"type": value.TAG, **_kind_fields(value)}
        out[name] = value
    return out


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list) or value is None:
        raise ValueError(f"expected a string, got {value!r}")
    return str(value)


def _structure_kind(data: dict[str, Any], cls: type[Any]) -> Any:
    single = _SINGLE_TEXT.get(cls)
    if single is not None:  # the common kinds: one required text field (task, query, info…)
        value = data.get(single)
        if isinstance(value, str):
            return cls(value)
    missing = _REQUIRED[cls].difference(data)
    if missing:
        raise KeyError(", ".join(sorted(missing)))
    args: dict[str, Any] = {}
    for name in _FIELDS[cls]:
        if name not in data:
            continue
        value = data[name]
        if name == "ack_type":
            args[name] = _structure_ack(value)
        elif value is None and name == "current_task":
            args[name] = None
        else:
            args[name] = _text(value)
    return cls(**args)


def _structure_ack(value: Any) -> AckKind:
    cls = _ACK_BY_TAG.get(str(value.get("type"))) if isinstance(value, dict) else None
    if cls is None:
        raise ValueError(f"unknown confirmation type in {value!r}")
    ack: AckKind = _structure_kind(value, cls)
    return ack


# --- messages ---------------------------------------------------------------------


def message_to_dict(msg: Message) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": msg.id.text,
        "from": msg.from_.text,
        "to": msg.to.text,
        "type": msg.kind.TAG,
    }
    out.update(_kind_fields(msg.kind))
    out["priority"] = msg.priority.value
    out["created_at"] = json_ts(msg.created_at)
    out["correlation_id"] = None if msg.correlation_id is None else msg.correlation_id.text
    return out


def message_to_json(msg: Message) -> str:
    try:
        return orjson.dumps(_wire_dict(msg), option=_UTC_Z).decode()
    except TypeError:  # text orjson refuses (lone surrogates): the general way
        return _dumps(message_to_dict(msg))


def message_to_bytes(msg: Message) -> bytes:
    """The UTF-8 bytes of :func:`message_to_json`: what goes to Redis."""
    try:
        return orjson.dumps(_wire_dict(msg), option=_UTC_Z)
    except TypeError:
        return _dumps(message_to_dict(msg)).encode("utf-8", "surrogateescape")


_UTC_Z = orjson.OPT_UTC_Z


def _wire_dict(msg: Message) -> dict[str, Any]:
    """:func:`message_to_dict` in one pass, for orjson with ``OPT_UTC_Z``.

    Same keys, order and values; a UTC ``created_at`` is left to orjson, which
    with ``OPT_UTC_Z`` writes exactly what :func:`json_ts` does.
    """
    kind = msg.kind
    at = msg.created_at
    created: datetime | str = at if at.tzinfo is UTC else json_ts(at)
    corr = msg.correlation_id
    single = _SINGLE_TEXT.get(type(kind))
    if single is not None:  # the common kinds, in one dict display
        return {
            "id": msg.id.text, "from": msg.from_.text, "to": msg.to.text, "type": kind.TAG,
            single: getattr(kind, single), "priority": msg.priority._value_,
            "created_at": created, "correlation_id": None if corr is None else corr.text,
        }  # fmt: skip
    out: dict[str, Any] = {
        "id": msg.id.text, "from": msg.from_.text, "to": msg.to.text, "type": kind.TAG,
        **_kind_fields(kind), "priority": msg.priority._value_,
    }  # fmt: skip
    out["created_at"] = created
    out["correlation_id"] = None if corr is None else corr.text
    return out


def kind_from_dict(data: dict[str, Any]) -> MessageKind:
    cls = _KIND_BY_TAG.get(data.get("type"))  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"unknown message type {data.get('type')!r}")
    kind: MessageKind = _structure_kind(data, cls)
    return kind


# --- events -------------------------------------------------------------------------

_EVENT_OPTIONAL_HEAD = ("agent_id", "task_id", "mission_id", "old_state", "new_state")
_EVENT_OPTIONAL_TAIL = ("parent_agent_id", "child_agent_id", "scope", "spawn_mode")


def event_to_json(event: Event) -> str:
    out: dict[str, Any] = {"event_type": event.event_type.value}
    for name in _EVENT_OPTIONAL_HEAD:
        value = getattr(event, name)
        if value is not None:
            out[name] = str(value)
    out["message"] = event.message
    out["timestamp"] = json_ts(event.timestamp)
    for name in _EVENT_OPTIONAL_TAIL:
        value = getattr(event, name)
        if value is not None:
            out[name] = str(value)
    return _dumps(out)


def event_from_json(text: str | bytes, where: str = "event") -> Event:
    data = _loads_object(text, where)
    try:
        return _event_from_dict(data)
    except Exception as exc:
        raise CorruptRecordError(where, f"{type(exc).__name__}: {exc}") from None


def _event_from_dict(data: dict[str, Any]) -> Event:
    def opt(name: str) -> str | None:
        value = data.get(name)
        return None if value is None else _text(value)

    def opt_agent(name: str) -> AgentId | None:
        value = data.get(name)
        return None if value is None else AgentId.parse(value)

    return Event(
        event_type=EventType(data["event_type"]),
        message=_text(data["message"]),
        timestamp=parse_ts(data["timestamp"]),
        agent_id=opt_agent("agent_id"),
        task_id=opt("task_id"),
        mission_id=opt("mission_id"),
        old_state=opt("old_state"),
        new_state=opt("new_state"),
        parent_agent_id=opt_agent("parent_agent_id"),
        child_agent_id=opt_agent("child_agent_id"),
        scope=opt("scope"),
        spawn_mode=opt("spawn_mode"),
    )


# --- legacy JSON records (old string storage, JSON APIs) -----------------------------


def agent_to_json(agent: Agent) -> str:
    def opt(v: object) -> str | None:
        return None if v is None else str(v)

    return _dumps(
        {
            "id": str(agent.id),
            "name": agent.name,
            "nickname": agent.nickname,
            "role_id": agent.role_id,
            "parent_agent_id": opt(agent.parent_agent_id),
            "spawn_mode": agent.spawn_mode.value,
            "agent_type": agent.agent_type.value,
            "state": agent.state.value,
            "cli": agent.cli,
            "current_task": opt(agent.current_task),
            "created_at": json_ts(agent.created_at),
            "last_heartbeat": json_ts(agent.last_heartbeat),
            "tasks_completed": agent.tasks_completed,
            "rounds_completed": agent.rounds_completed,
            "last_active_at": json_ts(agent.last_active_at),
        }
    )


def agent_from_json(text: str | bytes, where: str = "agent") -> Agent:
    data = _loads_object(text, where)
    try:
        now = datetime.now(UTC)
        created = parse_ts(data["created_at"])
        parent = data.get("parent_agent_id")
        task = data.get("current_task")
        active = data.get("last_active_at")
        return Agent(
            id=AgentId.parse(data["id"]),
            name=data["name"],
            nickname=data.get("nickname"),
            role_id=data.get("role_id"),
            parent_agent_id=None if parent is None else AgentId.parse(parent),
            spawn_mode=SpawnMode(data.get("spawn_mode", "fresh")),
            agent_type=AgentType(data.get("agent_type", "worker")),
            state=AgentState(data.get("state", "starting")),
            cli=data["cli"],
            current_task=None if task is None else TaskId.parse(task),
            created_at=created,
            last_heartbeat=parse_ts(data["last_heartbeat"]),
            tasks_completed=int(data.get("tasks_completed", 0)),
            rounds_completed=int(data.get("rounds_completed", 0)),
            last_active_at=now if active is None else parse_ts(active),
        )
    except Exception as exc:
        raise CorruptRecordError(where, f"{type(exc).__name__}: {exc}") from None


def task_to_json(task: Task) -> str:
    def ts(v: datetime | None) -> str | None:
        return None if v is None else json_ts(v)

    return _dumps(
        {
            "id": str(task.id),
            "description": task.description,
            "state": task.state.value,
            "assigned_to": None if task.assigned_to is None else str(task.assigned_to),
            "created_at": json_ts(task.created_at),
            "updated_at": json_ts(task.updated_at),
            "started_at": ts(task.started_at),
            "completed_at": ts(task.completed_at),
            "result": task.result,
            "parent_id": None if task.parent_id is None else str(task.parent_id),
            "tags": list(task.tags),
        }
    )


def task_from_json(text: str | bytes, where: str = "task") -> Task:
    data = _loads_object(text, where)
    try:
        state = data.get("state", "pending")
        return Task(
            id=TaskId.parse(data["id"]),
            description=data["description"],
            state=TaskState.RUNNING if state == "in_flight" else TaskState(state),
            assigned_to=_opt(data.get("assigned_to"), AgentId.parse),
            created_at=parse_ts(data["created_at"]),
            updated_at=parse_ts(data["updated_at"]),
            started_at=_opt(data.get("started_at"), parse_ts),
            completed_at=_opt(data.get("completed_at"), parse_ts),
            result=data.get("result"),
            parent_id=_opt(data.get("parent_id"), TaskId.parse),
            tags=[str(t) for t in data.get("tags", [])],
        )
    except Exception as exc:
        raise CorruptRecordError(where, f"{type(exc).__name__}: {exc}") from None


def _opt(value: Any, parse: Any) -> Any:
    return None if value is None else parse(value)
