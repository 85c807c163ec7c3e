"""Mission records: golden JSON written by tinytown 0.10 in both directions (missions.md §2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tinytown.codec.mission_codec import (
    control_from_json,
    control_to_json,
    mission_from_json,
    mission_to_json,
    status_to_dict,
    watch_from_json,
    watch_to_json,
    work_item_from_json,
    work_item_to_json,
)
from tinytown.codec.timestamps import parse_ts
from tinytown.errors import CorruptRecordError
from tinytown.keys import Keys
from tinytown.models import AgentId
from tinytown.models.mission import (
    ControlMessage,
    DocRef,
    IssueRef,
    MissionPolicy,
    MissionRun,
    MissionState,
    TriggerAction,
    WatchItem,
    WatchKind,
    WatchStatus,
    WorkItem,
    WorkKind,
    WorkStatus,
)

GOLDEN = json.loads(
    (Path(__file__).resolve().parent.parent / "golden" / "missions_rust.json").read_text()
)
T0 = datetime(2026, 4, 18, 16, 6, 55, 123456, tzinfo=UTC)


def _normalised(doc: dict[str, Any]) -> dict[str, Any]:
    """Timestamps compared as instants at microsecond precision (0.10 writes nanoseconds)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, str) and key.endswith("_at"):
            out[key] = parse_ts(value)
        else:
            out[key] = value
    return out


def _same_record(ours: str, theirs: str) -> None:
    a, b = json.loads(ours), json.loads(theirs)
    assert list(a) == list(b), "key order differs from 0.10"
    assert _normalised(a) == _normalised(b)


def test_rust_mission_decodes_and_reencodes_in_the_same_shape() -> None:
    mission = mission_from_json(GOLDEN["mission"])
    assert mission.state is MissionState.RUNNING
    assert mission.objective_refs == [
        IssueRef("acme", "widgets", 1),
        IssueRef("acme", "widgets", 2),
        IssueRef("acme", "widgets", 3),
        DocRef("docs/plan.md"),
    ]
    assert mission.policy == MissionPolicy()
    assert mission.dispatcher_last_tick_at is not None
    _same_record(mission_to_json(mission), GOLDEN["mission"])


@pytest.mark.parametrize("index", range(4))
def test_rust_work_items_decode_and_reencode(index: int) -> None:
    raw = GOLDEN["work_items"][index]
    item = work_item_from_json(raw)
    _same_record(work_item_to_json(item), raw)


def test_rust_work_item_details() -> None:
    items = {i.title: i for i in map(work_item_from_json, GOLDEN["work_items"])}
    design = items["Design the auth API"]
    assert design.kind is WorkKind.DESIGN
    assert design.source_ref == "acme/widgets#1/#1"
    assert design.status is WorkStatus.ASSIGNED
    implement = items["Implement auth flow"]
    assert implement.depends_on == [design.id]
    assert implement.owner_role == "backend"
    assert items["Test the auth flow"].owner_role == "tester"


@pytest.mark.parametrize("index", range(4))
def test_rust_watches_decode_and_reencode(index: int) -> None:
    raw = GOLDEN["watches"][index]
    _same_record(watch_to_json(watch_from_json(raw)), raw)


def test_rust_control_message_decodes_and_reencodes() -> None:
    raw = GOLDEN["control"][0]
    note = control_from_json(raw)
    assert note.sender == "conductor"
    assert note.is_pending
    _same_record(control_to_json(note), raw)


def test_our_records_match_the_written_bytes() -> None:
    mission = MissionRun.new([IssueRef("o", "r", 23)], T0).started(T0)
    assert mission_to_json(mission) == (
        '{"id":"' + mission.id.text + '","objective_refs":[{"type":"issue","owner":"o",'
        '"repo":"r","number":23}],"state":"running","policy":{"max_parallel_items":2,'
        '"reviewer_required":true,"auto_merge":false,"watch_interval_secs":180},'
        '"created_at":"2026-04-18T16:06:55.123456Z","updated_at":"2026-04-18T16:06:55.123456Z",'
        '"next_wake_at":null,"blocked_reason":null,"dispatcher_last_tick_at":null,'
        '"dispatcher_last_progress_at":null,"dispatcher_last_help_request_at":null,'
        '"dispatcher_last_help_request_reason":null,"dispatcher_help_request_attempts":0}'
    )
    assert mission_from_json(mission_to_json(mission)) == mission


def test_work_item_and_watch_round_trip() -> None:
    mission = MissionRun.new([DocRef("d.md")], T0)
    item = WorkItem.new(mission.id, "T", WorkKind.MERGEGATE, T0, owner_role="devops")
    item = item.assigned(AgentId.new(), T0).with_artifacts(["task:x"], T0)
    assert json.loads(work_item_to_json(item))["kind"] == "mergegate"
    assert work_item_from_json(work_item_to_json(item)) == item
    watch = WatchItem.new(mission.id, item.id, WatchKind.MERGEABILITY, "o/r#4", 180, T0,
                          TriggerAction.ADVANCE_PIPELINE)
    assert watch_from_json(watch_to_json(watch)) == watch


def test_reading_accepts_merge_gate_missing_optionals_and_nine_digit_fractions() -> None:
    doc = json.loads(GOLDEN["work_items"][0])
    doc["kind"] = "merge_gate"
    del doc["reviewer_approved"]
    del doc["assigned_to"]
    doc["created_at"] = "2026-04-18T16:06:55.123456789Z"
    item = work_item_from_json(json.dumps(doc))
    assert item.kind is WorkKind.MERGEGATE
    assert item.reviewer_approved is False
    assert item.assigned_to is None
    assert item.created_at.microsecond == 123456


@pytest.mark.parametrize(
    "text", ["not json", "[]", '{"id": "x"}', GOLDEN["mission"].replace('"running"', '"bogus"')]
)
def test_corrupt_mission_records_raise_corrupt_record_error(text: str) -> None:
    with pytest.raises(CorruptRecordError) as err:
        mission_from_json(text, "tt:t:mission:x")
    assert "tt:t:mission:x" in str(err.value)


def test_transitions_follow_the_spec() -> None:
    m = MissionRun.new([DocRef("a")], T0)
    assert m.state is MissionState.PLANNING
    later = T0 + timedelta(seconds=5)
    blocked = m.started(T0).blocked("why", later)
    assert (blocked.state, blocked.blocked_reason, blocked.updated_at) == (
        MissionState.BLOCKED, "why", later)
    done = blocked.completed(later)
    assert (done.state, done.blocked_reason) == (MissionState.COMPLETED, None)
    failed = m.failed("boom", T0)
    assert (failed.state, failed.blocked_reason) == (MissionState.FAILED, "boom")
    helped = m.help_requested("r", T0).help_requested("r", later)
    assert helped.dispatcher_help_request_attempts == 2
    assert helped.help_requested("other", later).dispatcher_help_request_attempts == 1
    assert helped.progressed(later).dispatcher_help_request_attempts == 0


def test_watch_backoff_and_snooze() -> None:
    w = WatchItem.new(MissionRun.new([], T0).id, WorkItem.new(
        MissionRun.new([], T0).id, "t", WorkKind.IMPLEMENT, T0).id,
        WatchKind.PR_CHECKS, "o/r#1", 180, T0)
    assert w.is_due(T0)
    delays = []
    for _ in range(4):
        w = w.check_failed(T0)
        delays.append((w.next_due_at - T0).total_seconds())
    assert delays == [60, 120, 300, 300]
    assert w.checked(T0).consecutive_failures == 0
    snoozed = w.snoozed(180, T0)
    assert snoozed.status is WatchStatus.SNOOZED
    assert not snoozed.is_due(T0)
    assert snoozed.is_due(T0 + timedelta(seconds=180))
    assert not snoozed.completed().is_due(T0 + timedelta(days=1))


def test_mission_keys() -> None:
    k = Keys("t")
    assert k.mission_control("m") == "tt:t:mission:m:control"
    assert k.mission_dispatch_lock("m") == "tt:t:mission:m:dispatch_lock"
    assert k.mission_active == "tt:t:mission:active"
    assert k.mission_log("m") == "tt:t:mission:m:events"
    assert k.mission_events_stream("m") == "tt:t:events:mission:m"


def test_status_document_is_one_shape_for_the_cli_and_rest() -> None:
    """``tt mission status --json`` is the REST document plus the control messages."""
    m = MissionRun.new([DocRef("a")], T0)
    item = WorkItem.new(m.id, "T", WorkKind.IMPLEMENT, T0)
    note = ControlMessage("c1", m.id, "CLI", "hold on", T0)
    rest = status_to_dict(m, [item], [], ["one"])
    cli = status_to_dict(m, [item], [], ["one"], [note])
    assert list(rest) == ["mission", "work_item_count", "watch_item_count", "work_items",
                          "watch_items", "events"]
    assert list(cli) == [*list(rest)[:5], "control_messages", "events"]
    assert (rest["work_item_count"], cli["control_messages"][0]["body"]) == (1, "hold on")
    assert {k: v for k, v in cli.items() if k != "control_messages"} == rest
