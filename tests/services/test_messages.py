"""tinytown.services.messages and .inbox: send semantics, classification, inbox views."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tinytown.codec import message_from_json
from tinytown.errors import AgentNotFoundError, InvalidInputError
from tinytown.models import (
    SUPERVISOR,
    AgentId,
    Category,
    ConfirmationType,
    Message,
    MessageType,
)
from tinytown.services import inbox, messages, tasks
from tinytown.services.registration import register_agent
from tinytown.town import Town

from ._work_fixtures import open_test_town


@pytest.fixture
async def town(
    tmp_path: Path, town_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Town]:
    async with open_test_town(tmp_path, town_name, redis_url, monkeypatch) as connected:
        yield connected

# --- pure --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rejected: tests fail ", ConfirmationType.Rejected(reason="tests fail")),
        ("rejected:", ConfirmationType.Rejected(reason="No reason provided")),
        ("Received. I'll start after current task.", ConfirmationType.Received()),
        ("approved, ship it", ConfirmationType.Approved()),
        ("many thanks", ConfirmationType.Thanks()),
        ("Thank you!", ConfirmationType.Thanks()),
        ("ok", ConfirmationType.Acknowledged()),
    ],
)
def test_parse_ack(text: str, expected: object) -> None:
    assert messages.parse_ack(text) == expected


def test_message_kind_per_flag() -> None:
    assert messages.message_kind("do it") == MessageType.Task(description="do it")
    assert messages.message_kind("why?", query=True) == MessageType.Query(question="why?")
    assert messages.message_kind("fyi", info=True) == MessageType.Informational(summary="fyi")
    ack = messages.message_kind("received", ack=True)
    assert ack == MessageType.Confirmation(ack_type=ConfirmationType.Received())
    with pytest.raises(InvalidInputError):
        messages.message_kind("x", query=True, ack=True)
    with pytest.raises(InvalidInputError):
        messages.message_kind("  ")


def _msg(kind: object) -> Message:
    return Message(from_=SUPERVISOR, to=SUPERVISOR, kind=kind)  # type: ignore[arg-type]


def test_count_categories_and_actionable_totals() -> None:
    sample = [
        _msg(MessageType.Task(description="a")),
        _msg(MessageType.TaskAssign(task_id="t")),
        _msg(MessageType.Shutdown()),
        _msg(MessageType.Query(question="q")),
        _msg(MessageType.Informational(summary="i")),
        _msg(MessageType.Custom(kind="track", payload="")),  # contains "ack": a confirmation
    ]
    counts = messages.count_categories(sample)
    assert (counts.task, counts.other, counts.query) == (2, 1, 1)
    assert (counts.informational, counts.confirmation) == (1, 1)
    assert counts.needs_action == 3
    assert counts.actionable == 4


def test_pick_bullets_prefers_work_and_falls_back_to_first_three() -> None:
    work = [messages.preview(_msg(MessageType.Task(description=f"w{i}")), {}) for i in range(7)]
    notes = [MessageType.Informational(summary=f"i{i}") for i in range(4)]
    info = [messages.preview(_msg(n), {}) for n in notes]
    shown, more = messages.pick_bullets(info[:1] + work)
    assert [p.summary for p in shown] == ["w0", "w1", "w2", "w3", "w4"]
    assert more == 2
    shown, more = messages.pick_bullets(info)
    assert [p.summary for p in shown] == ["i0", "i1", "i2"]
    assert more == 0


# --- send ------------------------------------------------------------------------------------


async def test_send_plain_and_urgent(town: Town) -> None:
    handle = await register_agent(town, "backend", "claude")
    sent = await messages.send(town, "backend", "The API spec is ready")
    assert sent.label == "task"
    assert not sent.urgent
    assert sent.message.from_ == SUPERVISOR
    urgent = await messages.send(town, "backend", "STOP!", urgent=True, query=True)
    assert urgent.label == "query"
    assert urgent.message.priority.value == "normal"
    assert await town.channel.inbox_len(handle.id) == 1
    (raw,) = await town.channel.raw_queue(handle.id, urgent=True)
    assert message_from_json(raw).kind == MessageType.Query(question="STOP!")


async def test_sender_resolution(town: Town) -> None:
    backend = await register_agent(town, "backend", "claude")
    reviewer = await register_agent(town, "reviewer", "claude")
    stranger = AgentId.new()
    cases = [
        ({"from_ref": str(stranger)}, stranger),  # UUIDs are taken as they are
        ({"from_ref": "reviewer"}, reviewer.id),
        ({"env_agent_id": str(backend.id), "env_agent_name": "reviewer"}, backend.id),
        ({"env_agent_id": "junk", "env_agent_name": "reviewer"}, reviewer.id),
        ({"env_agent_name": "ghost"}, SUPERVISOR),  # a failing name falls through
        ({}, SUPERVISOR),
    ]
    for kwargs, expected in cases:
        sent = await messages.send(town, "backend", "hi", info=True, **kwargs)  # type: ignore[arg-type]
        assert sent.message.from_ == expected, kwargs
    with pytest.raises(AgentNotFoundError):
        await messages.send(town, "backend", "hi", from_ref="ghost")


async def test_send_bad_input_sends_nothing(town: Town) -> None:
    handle = await register_agent(town, "backend", "claude")
    with pytest.raises(AgentNotFoundError):
        await messages.send(town, "ghost", "hi")
    with pytest.raises(InvalidInputError):
        await messages.send(town, "backend", "hi", info=True, ack=True)
    with pytest.raises(InvalidInputError):
        await messages.send(town, "backend", "")
    assert await town.channel.inbox_len(handle.id) == 0


# --- inbox views --------------------------------------------------------------------------------


async def test_single_inbox_counts_and_previews(town: Town) -> None:
    handle = await register_agent(town, "backend", "claude")
    done = await tasks.assign(town, "backend", "Fix login\nwith details")
    for i in range(11):
        await messages.send(town, "backend", f"note {i}", info=True)
    await messages.send(town, "backend", "urgent!", urgent=True)
    view = await inbox.inbox(town, "backend")
    assert view.agent_id == handle.id
    assert view.length == 12
    assert view.urgent == 1
    assert view.counts.needs_action == 1
    assert view.counts.informational == 11
    assert len(view.previews) == 10
    first = view.previews[0]
    assert first.category is Category.TASK
    assert first.summary == f"task {done.task.id}: Fix login\nwith details"


async def test_supervisor_inbox_under_both_aliases(town: Town) -> None:
    await messages.send(town, "conductor", "all green", info=True)
    for alias in ("supervisor", "Conductor"):
        view = await inbox.inbox(town, alias)
        assert view.is_supervisor
        assert view.length == 1
        assert view.previews[0].summary == "all green"


async def test_inbox_all_sections_and_totals(town: Town) -> None:
    await register_agent(town, "backend", "claude")
    await register_agent(town, "idle", "claude")
    await register_agent(town, "reviewer", "claude")
    await tasks.assign(town, "backend", "Fix authentication bug")
    await messages.send(town, "backend", "Can you?", query=True)
    await messages.send(town, "reviewer", "received", ack=True)
    await messages.send(town, "conductor", "help", query=True)
    everything = await inbox.inbox_all(town)
    names = [s.agent.name if s.agent else "supervisor" for s in everything.sections]
    assert names == ["backend", "reviewer", "supervisor"]
    backend = everything.sections[0]
    assert backend.bullets == ["Fix authentication bug"]
    assert backend.counts.actionable == 2
    assert everything.sections[1].bullets == ["received"]  # fallback: first messages
    assert everything.total_actionable == 3


async def test_inbox_all_empty_town(town: Town) -> None:
    everything = await inbox.inbox_all(town)
    assert everything.nothing_at_all
    assert everything.sections == []


async def test_inbox_all_round_trips_do_not_grow_with_agents(town: Town) -> None:
    costs = []
    for batch in (1, 30):
        for i in range(batch):
            name = f"w{batch}-{i}"
            await register_agent(town, name, "claude")
            await tasks.assign(town, name, f"job {i}")
        before = town.redis.round_trips
        await inbox.inbox_all(town)
        costs.append(town.redis.round_trips - before)
    assert costs[0] == costs[1] == 4
