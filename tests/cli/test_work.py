"""``tt assign`` and ``tt send`` through the real entry point (outputs pinned to the book)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _work_helpers import UUID_RE, assert_one_error_line, in_town, snapshot, spawn, uuids

from tinytown.codec import message_from_json
from tinytown.models import SUPERVISOR, ConfirmationType, MessageType, TaskId, TaskState
from tinytown.town import Town


def test_assign_prints_the_book_line_and_stores_the_task(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    ids = spawn(town_dir, "worker-1")
    result = tt("assign", "worker-1", "Implement the login API")
    assert result.code == 0, result.err
    assert re.fullmatch(rf"📋 Assigned task {UUID_RE} to agent 'worker-1'\n", result.out)
    (task_id,) = uuids(result.out)

    async def check(town: Town) -> None:
        task = await town.channel.require_task(TaskId.parse(task_id))
        assert task.state is TaskState.ASSIGNED
        assert task.assigned_to == ids["worker-1"]
        assert task.description == "Implement the login API"
        (raw,) = await town.channel.raw_queue(ids["worker-1"])
        assert message_from_json(raw).kind == MessageType.TaskAssign(task_id=task_id)

    in_town(town_dir, check)


def test_assign_accepts_short_id_and_conductor(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    ids = spawn(town_dir, "backend")
    short = ids["backend"].short
    assert tt("assign", short, "via short id").code == 0
    assert tt("assign", "conductor", "for the supervisor").code == 0

    async def check(town: Town) -> tuple[int, int]:
        return (
            await town.channel.inbox_len(ids["backend"]),
            await town.channel.inbox_len(SUPERVISOR),
        )

    assert in_town(town_dir, check) == (1, 1)


@pytest.mark.parametrize(
    ("flags", "label", "kind"),
    [
        ([], "task", MessageType.Task(description="The API spec is ready in docs/api.md")),
        (["--query"], "query", MessageType.Query(question="The API spec is ready in docs/api.md")),
        (
            ["--info"],
            "informational",
            MessageType.Informational(summary="The API spec is ready in docs/api.md"),
        ),
    ],
)
def test_send_kinds_print_the_book_line(tt, town_dir: Path, flags, label, kind) -> None:  # type: ignore[no-untyped-def]
    ids = spawn(town_dir, "backend")
    result = tt("send", "backend", *flags, "The API spec is ready in docs/api.md")
    assert result.code == 0, result.err
    assert result.out == f"📤 Sent {label} message to 'backend'\n"

    async def check(town: Town) -> object:
        (raw,) = await town.channel.raw_queue(ids["backend"])
        return message_from_json(raw).kind

    assert in_town(town_dir, check) == kind


def test_send_urgent_and_ack(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    ids = spawn(town_dir, "backend")
    result = tt("send", "backend", "--urgent", "STOP! Security vulnerability found. Do not merge.")
    assert result.out == "🚨 Sent URGENT task message to 'backend'\n"
    ack = tt("send", "conductor", "--ack", "Received. I'll start after current task.")
    assert ack.out == "📤 Sent confirmation message to 'conductor'\n"

    async def check(town: Town) -> tuple[int, int, object]:
        (raw,) = await town.channel.raw_queue(SUPERVISOR)
        return (
            await town.channel.urgent_len(ids["backend"]),
            await town.channel.inbox_len(ids["backend"]),
            message_from_json(raw).kind,
        )

    urgent, normal, kind = in_town(town_dir, check)
    assert (urgent, normal) == (1, 0)
    assert kind == MessageType.Confirmation(ack_type=ConfirmationType.Received())


def test_send_sender_from_flag_and_agent_environment(  # type: ignore[no-untyped-def]
    tt, town_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = spawn(town_dir, "backend", "reviewer")
    result = tt("send", "reviewer", "--from", "backend", "done")
    assert result.out == f"📤 Sent task message to 'reviewer' (from {ids['backend']})\n"
    monkeypatch.setenv("TINYTOWN_AGENT_NAME", "reviewer")
    again = tt("send", "backend", "--info", "looks good")
    assert again.out == f"📤 Sent informational message to 'backend' (from {ids['reviewer']})\n"


BAD_INPUT = [
    (["assign", "ghost", "work"], 3, "Error: Agent not found: ghost"),
    (["assign", "backend", "   "], 6, "Error: Task description must not be empty"),
    (["assign", "backend"], 2, "Error: "),
    (["send", "ghost", "hi"], 3, "Error: Agent not found: ghost"),
    (["send", "backend", "--query", "--ack", "hi"], 2, "Error: --query, --info and --ack"),
    (["send", "backend", ""], 6, "Error: Message must not be empty"),
    (["send", "backend", "--from", "ghost", "hi"], 3, "Error: Agent not found: ghost"),
    (["send", "backend", "hi", "--loud"], 2, "Error: "),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD_INPUT)
def test_bad_input_fails_cleanly_and_changes_nothing(  # type: ignore[no-untyped-def]
    tt, town_dir: Path, args: list[str], code: int, message: str
) -> None:
    spawn(town_dir, "backend")
    before = snapshot(town_dir)
    result = tt(*args)
    assert result.code == code, (result.out, result.err)
    assert_one_error_line(result.err, message)
    assert result.out == ""
    assert snapshot(town_dir) == before


def test_no_town(tt_nowhere) -> None:  # type: ignore[no-untyped-def]
    for args in (["assign", "backend", "x"], ["send", "backend", "hi"]):
        result = tt_nowhere(*args)
        assert result.code == 4
        assert_one_error_line(result.err, "Error: Town not initialized at .")


def test_redis_down(tt, town_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REDIS_URL", f"unix://{town_dir}/nothing-here.sock")
    down = tt("send", "backend", "hi")
    assert down.code == 5
    assert_one_error_line(down.err)
