"""Golden wire fixtures, both directions, plus the lenient reading rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tinytown.codec import (
    agent_from_hash,
    agent_from_json,
    agent_to_hash,
    agent_to_json,
    event_from_json,
    event_to_json,
    message_from_json,
    message_to_json,
    parse_ts,
    task_from_hash,
    task_from_json,
    task_to_hash,
    task_to_json,
)
from tinytown.errors import CorruptRecordError
from tinytown.models import (
    AgentState,
    EventType,
    MessageType,
    Priority,
    SpawnMode,
    TaskState,
)
from tinytown.models.message import Rejected

GOLDEN = Path(__file__).parent / "golden"
RECORDS = json.loads((GOLDEN / "records.json").read_text())
PY_MESSAGES = (GOLDEN / "messages_py.jsonl").read_text().splitlines()
RUST_MESSAGES = (GOLDEN / "messages_rust.jsonl").read_text().splitlines()


@pytest.mark.parametrize("line", PY_MESSAGES)
def test_python_message_fixtures_round_trip_byte_identical(line: str) -> None:
    assert message_to_json(message_from_json(line)) == line


def test_python_fixtures_cover_every_variant_and_ack() -> None:
    tags = {json.loads(line)["type"] for line in PY_MESSAGES}
    assert tags == {cls.TAG for cls in MessageType.ALL}
    acks = {json.loads(line)["ack_type"]["type"] for line in PY_MESSAGES if "ack_type" in line}
    assert acks == {"received", "acknowledged", "thanks", "approved", "rejected"}


@pytest.mark.parametrize("line", RUST_MESSAGES)
def test_rust_message_fixtures_decode_and_stay_stable(line: str) -> None:
    msg = message_from_json(line)
    again = message_from_json(message_to_json(msg))
    assert again == msg
    raw = json.loads(line)
    assert str(msg.id) == raw["id"]
    assert msg.priority == Priority(raw["priority"])
    assert msg.kind.TAG == raw["type"]


def test_rust_message_details() -> None:
    assign = message_from_json(RUST_MESSAGES[0])
    assert assign.kind == MessageType.TaskAssign(task_id="0d3f5b2a-8c4e-4f6a-b1d2-9e7c3a5f1b80")
    assert assign.from_.is_supervisor
    assert assign.created_at == datetime(2026, 4, 20, 18, 21, tzinfo=UTC)
    rejected = message_from_json(RUST_MESSAGES[3])
    assert rejected.kind == MessageType.Confirmation(
        ack_type=Rejected(reason="Missing approval from owner")
    )
    status = message_from_json(RUST_MESSAGES[2])
    assert status.kind == MessageType.StatusResponse(state="idle", current_task="task-42")
    assert str(status.correlation_id) == "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed"
    custom = message_from_json(RUST_MESSAGES[4])  # +00:00 offset and an unknown field
    assert custom.kind == MessageType.Custom(kind="pr_ready", payload='{"pr":42}')


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        "[1,2]",
        '{"id":"x","from":"y"}',
        RUST_MESSAGES[1].replace('"ping"', '"teleport"'),
        RUST_MESSAGES[1].replace("2026-04-20T", "yesterday-"),
        RUST_MESSAGES[1].replace('"low"', '"whenever"'),
    ],
)
def test_corrupt_messages_raise_corrupt_record(bad: str) -> None:
    with pytest.raises(CorruptRecordError):
        message_from_json(bad, where="tt:x:inbox:1")


def test_agent_hash_rust_fixture_decodes() -> None:
    agent = agent_from_hash(RECORDS["agent_hash_rust"])
    assert agent.name == "backend"
    assert agent.nickname == "Wilbert"
    assert agent.state is AgentState.WORKING
    assert agent.tasks_completed == 2
    assert agent.rounds_completed == 5
    assert agent.role_id == "worker"
    assert agent.label == "Wilbert [worker]"
    assert agent.incarnation == 0  # 0.10 records have no incarnation
    assert agent.last_heartbeat == datetime(2026, 4, 20, 18, 22, 15, 123456, tzinfo=UTC)
    fields, _ = agent_to_hash(agent)
    assert agent_from_hash(fields) == agent


def test_agent_hash_python_fixture_round_trips_exactly() -> None:
    golden = RECORDS["agent_hash_py"]
    agent = agent_from_hash(golden)
    assert agent.spawn_mode is SpawnMode.FORKED_CONTEXT
    fields, empty = agent_to_hash(agent)
    assert fields == golden
    assert list(fields) == list(golden)  # 0.10's field order
    assert set(empty) == {"parent_agent_id", "max_rounds", "host"}


def test_task_hash_fixtures() -> None:
    rust = task_from_hash(RECORDS["task_hash_rust"])
    assert rust.state is TaskState.RUNNING
    assert rust.tags == ["backend", "auth"]
    assert rust.completed_at is None
    golden = RECORDS["task_hash_py"]
    task = task_from_hash(golden)
    assert task.plan_id == "auth-api"
    fields, empty = task_to_hash(task)
    assert fields == golden
    assert list(fields) == list(golden)
    assert empty == []


def test_lenient_hash_reading() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    agent = agent_from_hash(
        {
            "id": "550e8400-e29b-41d4-a716-446655440000",
            "state": "dancing",
            "agent_type": "alien",
            "created_at": "garbage",
            "tasks_completed": "-3",
            "rounds_completed": "x",
            "current_task": "not-a-uuid",
        },
        now=now,
    )
    assert agent.state is AgentState.STARTING
    assert agent.created_at == now
    assert agent.last_active_at == now
    assert (agent.tasks_completed, agent.rounds_completed) == (0, 0)
    assert agent.current_task is None
    assert agent.name == ""
    task = task_from_hash(
        {"id": "0d3f5b2a-8c4e-4f6a-b1d2-9e7c3a5f1b80", "state": "in_flight", "tags": "{"}, now=now
    )
    assert task.state is TaskState.RUNNING
    assert task.tags == []


@pytest.mark.parametrize("fields", [{}, {"name": "x"}, {"id": "nope"}])
def test_hash_without_valid_id_is_corrupt(fields: dict[str, str]) -> None:
    with pytest.raises(CorruptRecordError):
        agent_from_hash(fields, where="tt:t:agent:x")
    with pytest.raises(CorruptRecordError):
        task_from_hash(fields, where="tt:t:task:x")


def test_legacy_json_records() -> None:
    agent = agent_from_json(RECORDS["agent_json_rust"])
    assert agent.state is AgentState.IDLE
    assert agent_to_json(agent_from_json(RECORDS["agent_json_py"])) == RECORDS["agent_json_py"]
    task = task_from_json(RECORDS["task_json_rust"])
    assert task_to_json(task) == RECORDS["task_json_rust"]
    assert task.tags == ["backend"]


def test_event_json_both_directions() -> None:
    for key in ("event_json", "event_json_full"):
        event = event_from_json(RECORDS[key])
        assert event_to_json(event) == RECORDS[key]
    assert event_from_json(RECORDS["event_json"]).event_type is EventType.AGENT_INTERRUPTED


@pytest.mark.parametrize(
    ("text", "micro"),
    [
        ("2026-04-20T18:22:15Z", 0),
        ("2026-04-20T18:22:15.1Z", 100000),
        ("2026-04-20T18:22:15.123Z", 123000),
        ("2026-04-20T18:22:15.123456789Z", 123456),
        ("2026-04-20T20:22:15.5+02:00", 500000),
        ("2026-04-20t18:22:15.000000001+00:00", 0),
    ],
)
def test_timestamps_accept_0_to_9_digits_and_offsets(text: str, micro: int) -> None:
    parsed = parse_ts(text)
    assert parsed.tzinfo is UTC
    assert parsed.hour == 18
    assert parsed.microsecond == micro


@pytest.mark.parametrize("bad", ["", "2026-04-20", "2026-04-20T18:22:15", "noon"])
def test_bad_timestamps_rejected(bad: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        parse_ts(bad)
