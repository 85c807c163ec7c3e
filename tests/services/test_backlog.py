"""tinytown.services.backlog: role matching (pure) and the backlog operations (real Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio

from tinytown.codec import message_from_json
from tinytown.errors import AgentNotFoundError, InvalidInputError, NotFoundError, TaskNotFoundError
from tinytown.models import MessageType, Task, TaskId, TaskState
from tinytown.services import backlog
from tinytown.services.registration import register_agent
from tinytown.town import Town

from ._work_fixtures import open_test_town


@pytest.fixture
async def town(
    tmp_path: Path, town_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Town]:
    async with open_test_town(tmp_path, town_name, redis_url, monkeypatch) as connected:
        yield connected

T0 = datetime(2026, 4, 20, tzinfo=UTC)


# --- pure -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("frontend", "frontend"),
        ("builder", "frontend"),  # contains "ui": substring matching, as 0.10
        ("Backend-2", "backend"),
        ("api", "backend"),
        ("qa", "tester"),
        ("reviewer", "reviewer"),
        ("auditor", "reviewer"),
        ("docs", "docs"),
        ("tech-writer", "docs"),
        ("infra", "devops"),
        ("security", "security"),
        ("sec", "security"),
        ("worker", "general"),
        ("agent", "general"),
    ],
)
def test_role_for_name(name: str, role: str) -> None:
    assert backlog.role_for_name(name).role == role


def _t(desc: str, *tags: str) -> Task:
    return Task.new(desc, T0, tags=list(tags))


def test_reviewer_matches_review_and_security_but_not_backend_work() -> None:
    reviewer = backlog.role_for_name("reviewer")
    backend_work = _t("Add endpoint", "backend", "frontend", "data")
    assert not backlog.task_matches_role(reviewer, backend_work)
    assert backlog.task_matches_role(reviewer, _t("Something", "Security"))
    assert backlog.task_matches_role(reviewer, _t("Please review the PR"))


def test_backend_matches_tags_exactly_and_description_by_substring() -> None:
    role = backlog.role_for_name("backend")
    assert backlog.task_matches_role(role, _t("x", "data"))
    assert not backlog.task_matches_role(role, _t("x", "databases"))
    assert backlog.task_matches_role(role, _t("Tune the database pool"))


def test_general_names_match_everything() -> None:
    for name in ("worker", "agent"):
        assert backlog.task_matches_role(backlog.role_for_name(name), _t("anything", "docs"))


def test_backlog_snapshot_skips_missing_and_keeps_first_matches() -> None:
    tasks: list[Task | None] = [_t(f"api {i}") for i in range(10)]
    tasks.insert(2, None)
    tasks.append(_t("css", "frontend"))
    snap = backlog.backlog_snapshot("backend", tasks, total_backlog=12, limit=8)
    assert snap.matching == 10
    assert len(snap.matches) == 8
    assert snap.total_backlog == 12
    assert snap.matches[0].description == "api 0"
    assert snap.role.hint == "Prioritize tasks tagged backend/api/server/database."


@pytest.mark.parametrize(
    ("text", "tags"),
    [(None, []), ("", []), ("a", ["a"]), (" a , b,,c ", ["a", "b", "c"])],
)
def test_parse_tags(text: str | None, tags: list[str]) -> None:
    assert backlog.parse_tags(text) == tags


# --- services ---------------------------------------------------------------------------------


async def test_add_list_and_fifo_order(town: Town) -> None:
    assert await backlog.list_backlog(town) == []
    made = [await backlog.add(town, f"task {i}", ["x"]) for i in range(3)]
    entries = await backlog.list_backlog(town)
    assert [e.task_id for e in entries] == [t.id for t in made]
    assert all(e.task is not None and e.task.state is TaskState.PENDING for e in entries)
    assert entries[0].task is not None
    assert entries[0].task.tags == ["x"]
    with pytest.raises(InvalidInputError):
        await backlog.add(town, "  ")
    assert await town.channel.backlog_len() == 3


async def test_claim_assigns_and_sends(town: Town) -> None:
    handle = await register_agent(town, "backend", "claude")
    task = await backlog.add(town, "Harden auth", ["backend"])
    done = await backlog.claim(town, str(task.id), "backend")
    assert done.task.state is TaskState.ASSIGNED
    assert done.task.assigned_to == handle.id
    assert await town.channel.backlog_list() == []
    stored = await town.channel.require_task(task.id)
    assert stored.state is TaskState.ASSIGNED
    assert stored.tags == ["backend"]
    (raw,) = await town.channel.raw_queue(handle.id)
    assert message_from_json(raw).kind == MessageType.TaskAssign(task_id=str(task.id))


async def test_failed_claims_leave_the_backlog_unchanged(town: Town) -> None:
    await register_agent(town, "backend", "claude")
    task = await backlog.add(town, "Keep me")
    dangling = TaskId.new()
    await town.channel.backlog_push(dangling)
    keys = town.channel.keys

    async def state() -> tuple[object, ...]:
        return (
            await town.redis.execute("LRANGE", keys.backlog, 0, -1),
            await town.redis.execute("HGETALL", keys.task(task.id)),
        )

    before = await state()
    cases: list[tuple[str, str, type[Exception]]] = [
        (str(task.id), "nobody", AgentNotFoundError),
        (str(TaskId.new()), "backend", NotFoundError),
        (str(dangling), "backend", TaskNotFoundError),
        ("zzz", "backend", InvalidInputError),
    ]
    for task_id, agent, error in cases:
        with pytest.raises(error):
            await backlog.claim(town, task_id, agent)
        assert await state() == before


async def test_concurrent_claims_assign_once(town: Town) -> None:
    a = await register_agent(town, "alpha", "claude")
    b = await register_agent(town, "beta", "claude")
    task = await backlog.add(town, "Only one may win")
    outcomes: list[str] = []

    async def try_claim(name: str) -> None:
        try:
            await backlog.claim(town, str(task.id), name)
            outcomes.append(name)
        except NotFoundError:
            outcomes.append("lost")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(try_claim, "alpha")
        nursery.start_soon(try_claim, "beta")
    assert sorted(outcomes)[0] in ("alpha", "beta")
    assert outcomes.count("lost") == 1
    total = await town.channel.inbox_len(a.id) + await town.channel.inbox_len(b.id)
    assert total == 1


async def test_assign_all_takes_everything_and_drops_dangling_ids(town: Town) -> None:
    handle = await register_agent(town, "backend", "claude")
    made = [await backlog.add(town, f"t{i}") for i in range(4)]
    await town.channel.backlog_push(TaskId.new())
    await town.redis.execute("RPUSH", town.channel.keys.backlog, "not-a-uuid")
    assigned = await backlog.assign_all(town, "backend")
    assert [t.id for t in assigned] == [t.id for t in made]
    assert await town.channel.backlog_len() == 0
    assert await town.channel.inbox_len(handle.id) == 4
    for t in made:
        assert (await town.channel.require_task(t.id)).assigned_to == handle.id
    assert await backlog.assign_all(town, "backend") == []


async def test_assign_all_unknown_agent_changes_nothing(town: Town) -> None:
    await backlog.add(town, "stay")
    with pytest.raises(AgentNotFoundError):
        await backlog.assign_all(town, "ghost")
    assert await town.channel.backlog_len() == 1


async def test_remove_deletes_entry_and_record(town: Town) -> None:
    task = await backlog.add(town, "Mistake")
    assert await backlog.remove(town, str(task.id).upper()) == task.id
    assert await town.channel.get_task(task.id) is None
    assert await town.channel.backlog_len() == 0
    stranger = await backlog.add(town, "kept")
    other = Task.new("not in backlog", T0)
    await town.channel.set_task(other)
    with pytest.raises(NotFoundError):
        await backlog.remove(town, str(other.id))
    assert await town.channel.get_task(other.id) is not None
    assert await town.channel.backlog_list() == [stranger.id]


async def test_snapshot_for_agent(town: Town) -> None:
    await backlog.add(town, "Fix CSS", ["frontend"])
    await backlog.add(town, "Tune API")
    snap = await backlog.snapshot_for_agent(town, "backend")
    assert snap.total_backlog == 2
    assert snap.matching == 1
    assert snap.matches[0].description == "Tune API"
