"""The per-round prompt (agent-loop.md §4), its batching helpers and its parser."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from tinytown.models import SUPERVISOR, AgentId, Message, MessageKind, MessageType, Task, TaskId
from tinytown.models.message import Rejected
from tinytown.runtime.prompt import (
    PromptContext,
    PromptItem,
    batch_messages,
    build_prompt,
    synthetic_backlog_query,
    tracked_task_id,
)
from tinytown.runtime.prompt_parse import parse_agent_name, parse_backlog, parse_items
from tinytown.services.backlog import GENERAL, BacklogSnapshot, backlog_snapshot

NOW = datetime(2026, 4, 20, 18, 0, tzinfo=UTC)
ME = AgentId.parse("11111111-2222-4333-8444-555555555555")
PEER = AgentId.parse("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")


def msg(kind: MessageKind, sender: AgentId = SUPERVISOR) -> Message:
    return Message(from_=sender, to=ME, kind=kind)


def task(description: str, tags: list[str] | None = None) -> Task:
    return Task.new(description, NOW, tags=tags)


def context(**changes: Any) -> PromptContext:
    base = PromptContext(
        town_name="my-town",
        agent_name="backend",
        round_no=3,
        max_rounds=10,
        items=[PromptItem(msg(MessageType.Query(question="Is the API ready?"), PEER))],
    )
    return attrs.evolve(base, **changes)


def lines_of(text: str) -> list[str]:
    return text.split("\n")


# --- sections and their order ------------------------------------------------------------


def test_title_and_intro() -> None:
    lines = lines_of(build_prompt(context()))
    assert lines[:4] == [
        "# Agent: backend",
        "",
        'You are agent "backend" in Tinytown "my-town".',
        "",
    ]
    assert lines[4] == "## Actionable Messages (already popped)"


def test_every_section_in_order_when_all_present() -> None:
    snapshot = BacklogSnapshot(GENERAL, [task("api work")], 1, 2)
    text = build_prompt(
        context(
            info_summaries=["fyi one"],
            confirmation_counts={"received": 2},
            backlog=snapshot,
        )
    )
    headings = [line for line in lines_of(text) if line.startswith("#")]
    assert headings == [
        "# Agent: backend",
        "## Actionable Messages (already popped)",
        "## Informational (batched summary)",
        "## Confirmations (auto-dismissed)",
        "## Available Commands",
        "## Backlog Snapshot",
        "## Current State",
        "## Your Workflow",
    ]
    # Every section is preceded by a blank line.
    lines = lines_of(text)
    for heading in headings[2:]:
        assert lines[lines.index(heading) - 1] == ""


def test_optional_sections_absent_when_empty() -> None:
    text = build_prompt(context())
    assert "## Informational" not in text
    assert "## Confirmations" not in text
    assert "## Backlog Snapshot" in text  # always present


def test_ends_with_closing_sentence() -> None:
    text = build_prompt(context())
    assert text.endswith(
        "Run only the commands needed for the work listed above. This round's inbox messages "
        "are already included in this prompt: do not try to read your inbox.\n"
    )


# --- actionable items -----------------------------------------------------------------------


def test_task_assignment_item_has_five_lines() -> None:
    record = task("Build the login endpoint\nsecond line ignored")
    item = PromptItem(msg(MessageType.TaskAssign(task_id=str(record.id))), task=record)
    lines = lines_of(build_prompt(context(items=[item])))
    start = lines.index("## Actionable Messages (already popped)") + 2
    assert lines[start : start + 6] == [
        f"1. [normal] task assignment from {SUPERVISOR}",
        f"   Task ID: {record.id}",
        "   Description: Build the login endpoint",
        f'   Complete with: tt task complete {record.id} --result "what was done"',
        "   Ignore any mission/work-item UUIDs in the description; "
        "the Task ID above is the real Tinytown task id.",
        "",
    ]


def test_task_description_truncated_to_160() -> None:
    record = task("x" * 200)
    item = PromptItem(msg(MessageType.TaskAssign(task_id=str(record.id))), task=record)
    text = build_prompt(context(items=[item]))
    assert f"   Description: {'x' * 157}...\n" in text


@pytest.mark.parametrize("task_id", ["t-1", str(TaskId.new())])
def test_task_details_unavailable(task_id: str) -> None:
    item = PromptItem(msg(MessageType.TaskAssign(task_id=task_id)))
    text = build_prompt(context(items=[item]))
    assert f"   Task ID: {task_id}\n   Description: Task details unavailable\n" in text


def test_non_uuid_task_id_ignores_a_record() -> None:
    item = PromptItem(msg(MessageType.TaskAssign(task_id="t-1")), task=task("real"))
    assert "Description: Task details unavailable" in build_prompt(context(items=[item]))


def test_other_items_are_one_line_with_summary() -> None:
    items = [
        PromptItem(msg(MessageType.Query(question="Can you review?"), PEER)),
        PromptItem(msg(MessageType.Task(description="Fix the build")), urgent=True),
        PromptItem(msg(MessageType.Shutdown())),
        PromptItem(msg(MessageType.Custom(kind="deploy", payload="now"))),
        PromptItem(msg(MessageType.StatusRequest())),
    ]
    lines = lines_of(build_prompt(context(items=items)))
    start = lines.index("## Actionable Messages (already popped)") + 2
    assert lines[start : start + 5] == [
        f"1. [normal] from {PEER}: question: Can you review?",
        f"2. [🚨 URGENT] from {SUPERVISOR}: Fix the build",
        f"3. [normal] from {SUPERVISOR}: shutdown requested",
        f"4. [normal] from {SUPERVISOR}: [deploy] now",
        f"5. [normal] from {SUPERVISOR}: status requested",
    ]


def test_item_summary_truncated_to_120() -> None:
    item = PromptItem(msg(MessageType.Query(question="q" * 300)))
    line = next(ln for ln in lines_of(build_prompt(context(items=[item]))) if ln.startswith("1."))
    summary = line.split(": ", 1)[1]
    assert len(summary) == 120
    assert summary.endswith("...")


# --- informational and confirmations ------------------------------------------------


def test_informational_capped_at_eight() -> None:
    infos = [f"update {n}" for n in range(11)]
    lines = lines_of(build_prompt(context(info_summaries=infos)))
    start = lines.index("## Informational (batched summary)") + 2
    assert lines[start : start + 9] == [f"- update {n}" for n in range(8)] + [
        "- ...and 3 more informational message(s)"
    ]
    assert "- Batched informational: 11" in lines


def test_confirmations_sorted_with_counts() -> None:
    counts = {"thanks": 1, "approved": 3, "received": 2}
    lines = lines_of(build_prompt(context(confirmation_counts=counts)))
    start = lines.index("## Confirmations (auto-dismissed)") + 2
    assert lines[start : start + 3] == ["- approved x3", "- received x2", "- thanks x1"]
    assert "- Auto-dismissed confirmations: 6" in lines


# --- commands, backlog, state, workflow ------------------------------------------------


def test_commands_block() -> None:
    text = build_prompt(context(agent_name="reviewer"))
    block = text.split("## Available Commands\n\n```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.strip().split("\n")]
    assert commands == [
        "tt status",
        'tt assign <agent> "task"',
        "tt backlog list",
        "tt backlog claim <task_id> reviewer",
        'tt send <agent> --query "question"',
        'tt send <agent> --info "update"',
        'tt send <agent> --ack "received"',
        'tt send <agent> --urgent --query "..."',
        "tt task current",
        'tt task complete <task_id> --result "summary"',
    ]
    assert all("# " in line for line in block.strip().split("\n"))


def test_backlog_with_matches() -> None:
    tasks = [task(f"api task {n}", ["backend", "api"] if n == 0 else None) for n in range(10)]
    snapshot = backlog_snapshot("backend", tasks, 12)
    lines = lines_of(build_prompt(context(backlog=snapshot)))
    start = lines.index("## Backlog Snapshot")
    assert lines[start + 1 : start + 6] == [
        "",
        "- Total backlog tasks: 12",
        "- Role-matching backlog tasks: 10",
        "- Role match hint: Prioritize tasks tagged backend/api/server/database.",
        "",
    ]
    assert lines[start + 6] == "Review and claim role-matching items:"
    assert lines[start + 7] == f"- {tasks[0].id} - api task 0 [backend, api]"
    assert lines[start + 8] == f"- {tasks[1].id} - api task 1"
    assert lines[start + 15] == "- ...and 2 more role-matching backlog task(s)"


def test_backlog_without_matches() -> None:
    snapshot = backlog_snapshot("frontend", [task("database migration")], 1)
    text = build_prompt(context(backlog=snapshot))
    assert "- Role-matching backlog tasks: 0\n" in text
    assert (
        "\n\nNo backlog tasks currently match your role hint. "
        "Do not claim unrelated work by default.\n" in text
    )
    assert "Review and claim" not in text


def test_empty_backlog_has_no_advice() -> None:
    text = build_prompt(context())
    assert "- Total backlog tasks: 0\n" in text
    assert "No backlog tasks currently match" not in text


def test_backlog_description_truncated_to_90() -> None:
    snapshot = BacklogSnapshot(GENERAL, [task("d" * 100)], 1, 1)
    text = build_prompt(context(backlog=snapshot))
    assert f" - {'d' * 87}...\n" in text


def test_current_state_counters() -> None:
    items = [
        PromptItem(msg(MessageType.Query(question="a")), urgent=True),
        PromptItem(msg(MessageType.Query(question="b"))),
        PromptItem(msg(MessageType.Query(question="c")), urgent=True),
    ]
    lines = lines_of(build_prompt(context(items=items, info_summaries=["i"] * 2)))
    start = lines.index("## Current State")
    assert lines[start + 1 : start + 7] == [
        "- Round: 3/10",
        "- Actionable messages: 3",
        "- Urgent actionable: 2",
        "- Batched informational: 2",
        "- Auto-dismissed confirmations: 0",
        "",
    ]


def test_current_task_line_only_when_tracked() -> None:
    tid = TaskId.new()
    assert "- Current task:" not in build_prompt(context())
    assert f"- Current task: {tid}\n" in build_prompt(context(current_task=tid))


def test_workflow_has_nine_steps() -> None:
    lines = lines_of(build_prompt(context()))
    start = lines.index("## Your Workflow") + 2
    steps = lines[start : start + 9]
    assert [s.split(".", 1)[0] for s in steps] == [str(n) for n in range(1, 10)]
    assert "tt task current" in steps[6]
    assert 'tt task complete <task_id> --result "what was done"' in steps[7]
    assert lines[start + 9] == ""


# --- batching ----------------------------------------------------------------------------


def test_batch_puts_urgent_first_and_splits_categories() -> None:
    urgent = [msg(MessageType.Query(question="now?"))]
    normal = [
        msg(MessageType.TaskAssign(task_id="t-9")),
        msg(MessageType.Informational(summary="line one\nline two")),
        msg(MessageType.TaskDone(task_id="t-1", result="ok")),
        msg(MessageType.Confirmation()),
        msg(MessageType.Confirmation()),
        msg(MessageType.Confirmation(ack_type=Rejected(reason="no"))),
        msg(MessageType.Ping()),
        msg(MessageType.Custom(kind="fyi", payload="x")),
    ]
    batch = batch_messages(urgent, normal)
    assert [(i.message.kind, i.urgent) for i in batch.items] == [
        (MessageType.Query(question="now?"), True),
        (MessageType.TaskAssign(task_id="t-9"), False),
    ]
    assert batch.info_summaries == ("line one", "task t-1 done: ok", "ping", "[fyi] x")
    assert dict(batch.confirmation_counts) == {"received": 2, "rejected: no": 1}
    assert batch.confirmation_total == 3


def test_batch_truncates_summaries() -> None:
    batch = batch_messages(
        [],
        [
            msg(MessageType.Informational(summary="i" * 150)),
            msg(MessageType.Confirmation(ack_type=Rejected(reason="r" * 100))),
        ],
    )
    assert len(batch.info_summaries[0]) == 100
    (key,) = batch.confirmation_counts
    assert len(key) == 60
    assert key.endswith("...")


def test_synthetic_backlog_query() -> None:
    message = synthetic_backlog_query(ME, "backend", 3)
    assert message.from_ == SUPERVISOR
    assert message.to == ME
    assert message.kind == MessageType.Query(
        question="No direct assignments right now. Backlog has 3 role-matching task(s): "
        "review and claim one with `tt backlog claim <task-id> backend`."
    )


def test_synthetic_backlog_query_parses_as_a_nudge() -> None:
    snapshot = BacklogSnapshot(GENERAL, [task("parked")], 1, 1)
    item = PromptItem(synthetic_backlog_query(ME, "backend", 1))
    (parsed,) = parse_items(build_prompt(context(items=[item], backlog=snapshot)))
    assert parsed.is_backlog_nudge
    assert parsed.sender == str(SUPERVISOR)
    assert not PromptItem(msg(MessageType.Query(question="hello"))).task_id
    (plain,) = parse_items(build_prompt(context()))
    assert not plain.is_backlog_nudge


def test_tracked_task_id_needs_exactly_one_assignment() -> None:
    tid = TaskId.new()
    one = PromptItem(msg(MessageType.TaskAssign(task_id=str(tid))))
    other = PromptItem(msg(MessageType.TaskAssign(task_id=str(TaskId.new()))))
    query = PromptItem(msg(MessageType.Query(question="q")))
    assert tracked_task_id([one, query]) == tid
    assert tracked_task_id([one, other]) is None
    assert tracked_task_id([query]) is None
    assert tracked_task_id([PromptItem(msg(MessageType.TaskAssign(task_id="t-1")))]) is None


# --- parsing back -----------------------------------------------------------------------------


def test_parse_round_trip() -> None:
    record = task("Write docs: the [quick] start")
    backlog_task = task("review the api", ["review"])
    items = [
        PromptItem(msg(MessageType.Query(question="Ready: yes?"), PEER), urgent=True),
        PromptItem(msg(MessageType.TaskAssign(task_id=str(record.id))), task=record),
        PromptItem(msg(MessageType.Informational(summary="not actionable"))),
    ]
    snapshot = backlog_snapshot("reviewer", [backlog_task], 1)
    prompt = build_prompt(context(agent_name="reviewer", items=items, backlog=snapshot))
    parsed = parse_items(prompt)
    assert [(p.index, p.urgent, p.sender, p.task_id) for p in parsed] == [
        (1, True, str(PEER), None),
        (2, False, str(SUPERVISOR), str(record.id)),
        (3, False, str(SUPERVISOR), None),
    ]
    assert parsed[0].is_query
    assert parsed[0].question == "Ready: yes?"
    assert parsed[1].text == "Write docs: the [quick] start"
    assert not parsed[2].is_query
    assert parse_agent_name(prompt) == "reviewer"
    assert [(b.task_id, b.text) for b in parse_backlog(prompt)] == [
        (str(backlog_task.id), "review the api [review]")
    ]


def test_parse_ignores_text_outside_the_actionable_section() -> None:
    prompt = "# Agent: x\n\n## Other\n\n1. [normal] from abc: question: no\n"
    assert parse_items(prompt) == []
    assert parse_backlog(prompt) == []
