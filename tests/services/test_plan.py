"""The tasks.toml plan: strict parsing (pure), push/pull merges (pure), and sync against Redis."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tinytown.config import new_town_config, save_town_config
from tinytown.errors import PlanError
from tinytown.models import Agent, AgentState, Task, TaskState
from tinytown.services import plan as svc
from tinytown.services.plan_file import (
    TEMPLATE,
    Plan,
    PlanEntry,
    PlanMeta,
    parse_plan,
    plan_to_dict,
    plan_to_toml,
    read_plan,
    write_plan,
    write_template,
)
from tinytown.town import Town, utcnow

NOW = datetime(2026, 4, 20, 18, 0, 0, tzinfo=UTC)

# The book's "Pipeline with tasks.toml" example.
BOOK_PIPELINE = """\
[meta]
description = "User Profile Feature Pipeline"

# Epic (parent task)
[[tasks]]
id = "profile-epic"
description = "Implement user profile feature"
status = "pending"
tags = ["epic", "q1-2024"]

# Subtasks under the epic
[[tasks]]
id = "design"
description = "Design profile API schema"
agent = "architect"
status = "pending"
parent = "profile-epic"
tags = ["design"]

[[tasks]]
id = "implement"
description = "Implement profile endpoints"
agent = "developer"
status = "pending"
parent = "profile-epic"
tags = ["backend"]

[[tasks]]
id = "test"
description = "Write profile API tests"
agent = "tester"
status = "pending"
parent = "profile-epic"
tags = ["testing"]

[[tasks]]
id = "review"
description = "Review profile implementation"
agent = "reviewer"
status = "pending"
parent = "profile-epic"
tags = ["review"]
"""


# --- parsing ----------------------------------------------------------------------------


def test_template_parses() -> None:
    plan = parse_plan(TEMPLATE)
    assert plan.meta == PlanMeta("Task plan for this project")
    assert plan.tasks == (
        PlanEntry("example-1", "Example task - replace with your own", tags=("example",)),
    )


def test_book_pipeline_parses() -> None:
    plan = parse_plan(BOOK_PIPELINE)
    assert [e.id for e in plan.tasks] == ["profile-epic", "design", "implement", "test", "review"]
    assert plan.tasks[1] == PlanEntry(
        "design",
        "Design profile API schema",
        agent="architect",
        tags=("design",),
        parent="profile-epic",
    )
    assert plan.meta.description == "User Profile Feature Pipeline"


def test_empty_file_is_an_empty_plan() -> None:
    assert parse_plan("") == Plan()


def test_defaults_and_normalisation() -> None:
    plan = parse_plan(
        '[[tasks]]\ndescription = "a"\n[[tasks]]\ndescription = "b"\nstatus = "Completed"\n'
    )
    assert [(e.id, e.status) for e in plan.tasks] == [
        ("task-1", "pending"),
        ("task-2", "completed"),
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        # syntax error: the parser's own position
        ('[[tasks]]\nid = "a"\ndescription = "x\n', "line 3"),
        ('[meta]\ndescription = "x"\n[[tasks]\n', "line 3"),
        # wrong types and values
        ('[[tasks]]\nid = "a"\ndescription = "x"\ntags = "one"\n', "line 4: 'tags' must be"),
        ('[[tasks]]\nid = 7\ndescription = "x"\n', "line 2: 'id' must be a string"),
        (
            '[[tasks]]\nid = "a"\ndescription = "x"\nstatus = "blocked"\n',
            "line 4: unknown status 'blocked'",
        ),
        ('[[tasks]]\nid = "a"\n', "line 1: missing or empty 'description' in task 1 (id 'a')"),
        ('[[tasks]]\nid = "a"\ndescription = "   "\n', "line 3: missing or empty"),
        ('[[tasks]]\nid = "a"\ndescription = "x"\ntags = ["plan:zz"]\n', "reserved"),
        ("tasks = 3\n", "'tasks' must be an array of tables"),
        ('meta = "x"\n', "'meta' must be a table"),
        # ids and parents
        (
            '[[tasks]]\nid = "a"\ndescription = "x"\n[[tasks]]\nid = "a"\ndescription = "y"\n',
            "line 5: duplicate id 'a' in task 2",
        ),
        (
            '[[tasks]]\nid = "a"\ndescription = "x"\nparent = "nope"\n',
            "line 4: parent 'nope' of task 1",
        ),
        ('[[tasks]]\nid = "a"\ndescription = "x"\nparent = "a"\n', "parent 'a' of task 1"),
    ],
)
def test_bad_plans_name_the_line(text: str, fragment: str) -> None:
    with pytest.raises(PlanError) as err:
        parse_plan(text)
    message = str(err.value)
    assert fragment in message
    assert "\n" not in message
    assert message.startswith("tasks.toml")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        # unknown field in an entry: its line, its position and id
        (
            '[[tasks]]\nid = "a"\ndescription = "x"\n\n[[tasks]]\nid = "b"\ndescription = "y"\n'
            'assignee = "bob"\n',
            "tasks.toml line 8: unknown field 'assignee'",
        ),
        (
            '[[tasks]]\nid = "a"\ndescription = "x"\n\n[[tasks]]\nid = "b"\ndescription = "y"\n'
            'assignee = "bob"\n',
            "in task 2 (id 'b'): kept, not used",
        ),
        # unknown field in [meta] and at the top
        ('[meta]\ndescription = "x"\nowner = "me"\n', "line 3: unknown field 'owner' in [meta]"),
        ('version = 2\n[[tasks]]\ndescription = "x"\n', "line 1: unknown top-level field"),
        ('[[tasks]]\ndescription = "x"\n[settings]\na = 1\n', "line 3: unknown top-level field"),
    ],
)
def test_unknown_keys_are_kept_and_noted_with_their_line(text: str, fragment: str) -> None:
    plan = parse_plan(text)
    assert len(plan.notes) == 1
    assert fragment in plan.notes[0]
    assert plan.meta.description == "x" or plan.tasks  # the plan itself is usable


def test_write_and_read_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "tasks.toml"
    plan = parse_plan(BOOK_PIPELINE)
    write_plan(path, plan)
    assert read_plan(path) == plan
    assert read_plan(tmp_path / "missing.toml") is None


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        'with "quotes" and \\ backslash',
        "two\nlines\ttab",
        "del \x7f and \x01",
        "émoji 🚂",
        "'single'",
        "",
    ],
)
def test_written_strings_survive_a_round_trip(tmp_path: Path, text: str) -> None:
    plan = Plan(
        PlanMeta(text or "m", text or None),
        (PlanEntry("a", text or "x", agent=text or None, tags=(text, "t")),),
    )
    path = tmp_path / "tasks.toml"
    write_plan(path, plan)
    assert read_plan(path) == plan


def test_written_layout_matches_the_book() -> None:
    plan = Plan(
        PlanMeta("Sprint 1 tasks"),
        (
            PlanEntry(
                "auth-api", "Build user authentication API", agent="backend", tags=("auth", "api")
            ),
            PlanEntry("auth-tests", "Write auth API tests", agent="tester", parent="auth-api"),
        ),
    )
    assert plan_to_toml(plan) == (
        "[meta]\n"
        'description = "Sprint 1 tasks"\n'
        "\n"
        "[[tasks]]\n"
        'id = "auth-api"\n'
        'description = "Build user authentication API"\n'
        'agent = "backend"\n'
        'status = "pending"\n'
        'tags = ["auth", "api"]\n'
        "\n"
        "[[tasks]]\n"
        'id = "auth-tests"\n'
        'description = "Write auth API tests"\n'
        'agent = "tester"\n'
        'status = "pending"\n'
        'parent = "auth-api"\n'
    )


def test_unwritable_locations_are_plan_errors(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "tasks.toml"
    with pytest.raises(PlanError, match="Cannot write"):
        write_plan(missing, Plan())
    with pytest.raises(PlanError, match="Cannot write"):
        write_template(missing)
    folder = tmp_path / "tasks.toml"
    folder.mkdir()
    with pytest.raises(PlanError, match="Cannot read"):
        read_plan(folder)


def test_plan_to_dict_omits_empty_fields() -> None:
    doc = plan_to_dict(Plan(PlanMeta(), (PlanEntry("a", "x"),)))
    assert doc == {"tasks": [{"id": "a", "description": "x", "status": "pending"}]}


def test_write_template_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "tasks.toml"
    assert write_template(path)
    path.write_text("mine")
    assert not write_template(path)
    assert path.read_text() == "mine"
    assert write_template(path, force=True)
    assert path.read_text() == TEMPLATE


# --- push / pull decisions (pure) ------------------------------------------------------------


def test_tasks_for_push_maps_statuses_tags_and_parents() -> None:
    plan = parse_plan(
        BOOK_PIPELINE.replace(
            'id = "test"\ndescription = "Write profile API tests"'
            '\nagent = "tester"\nstatus = "pending"',
            'id = "test"\ndescription = "Write profile API tests"'
            '\nagent = "tester"\nstatus = "completed"',
        )
    )
    created = svc.tasks_for_push(plan, {}, NOW)
    by_id = {e.id: t for e, t in created}
    assert len(created) == 5
    epic = by_id["profile-epic"]
    assert epic.tags == ["epic", "q1-2024", "plan:profile-epic"]
    assert epic.state is TaskState.PENDING
    assert epic.parent_id is None
    assert by_id["design"].parent_id == epic.id
    assert by_id["test"].state is TaskState.COMPLETED
    assert by_id["test"].result == "Completed via sync"
    assert by_id["design"].assigned_to is None  # agent is not assigned by push


def test_tasks_for_push_failed_and_existing() -> None:
    plan = parse_plan(
        '[[tasks]]\nid = "a"\ndescription = "x"\nstatus = "failed"\n'
        '[[tasks]]\nid = "b"\ndescription = "y"\nparent = "a"\n'
    )
    done = svc.tasks_for_push(plan, {}, NOW)
    assert done[0][1].state is TaskState.FAILED
    assert done[0][1].result == "Failed via sync"
    existing_a = Task.new("x", NOW, tags=["plan:a"])
    only_b = svc.tasks_for_push(plan, {"a": existing_a}, NOW)
    assert [e.id for e, _ in only_b] == ["b"]
    assert only_b[0][1].parent_id == existing_a.id


def test_plan_tasks_picks_the_newest_per_plan_id() -> None:
    old = Task.new("old", NOW, tags=["plan:a"])
    new = Task.new("new", NOW + timedelta(seconds=5), tags=["x", "plan:a"])
    other = Task.new("not a plan task", NOW)
    assert svc.plan_tasks([new, other, old]) == {"a": new}


def test_merge_pull_updates_adds_and_keeps() -> None:
    plan = parse_plan(
        '[meta]\ndescription = "m"\n'
        '[[tasks]]\nid = "a"\ndescription = "A"\nagent = "planned"\n'
        '[[tasks]]\nid = "b"\ndescription = "B"\nstatus = "pending"\n'
    )
    worker = Agent.new("worker-1", "claude", NOW)
    worker.state = AgentState.WORKING
    t_a = Task.new("A (edited in Redis)", NOW, tags=["api", "plan:a"]).assigned(worker.id, NOW)
    t_a = t_a.started(NOW)
    t_c = Task.new("C", NOW + timedelta(seconds=1), tags=["plan:c"], parent_id=t_a.id)
    t_c = t_c.completed("ok", NOW)
    merged, updated, added = svc.merge_pull(plan, [t_a, t_c], {worker.id: worker})
    assert (updated, added) == (["a"], ["c"])
    assert merged.meta.description == "m"
    assert merged.tasks == (
        PlanEntry("a", "A (edited in Redis)", agent="worker-1", status="running", tags=("api",)),
        PlanEntry("b", "B"),
        PlanEntry("c", "C", status="completed", parent="a"),
    )


def test_merge_pull_without_a_file() -> None:
    t = Task.new("only", NOW, tags=["plan:x"])
    merged, updated, added = svc.merge_pull(None, [t], {})
    assert (updated, added) == ([], ["x"])
    assert merged.tasks == (PlanEntry("x", "only"),)


# --- against Redis --------------------------------------------------------------------------


@pytest.fixture
async def town(tmp_path: Path, town_name: str, redis_url: str) -> AsyncIterator[Town]:
    root = tmp_path / "town"
    (root / ".tt" / "logs").mkdir(parents=True)
    save_town_config(root, new_town_config(town_name))
    async with Town.connect(root, env={"REDIS_URL": redis_url}) as connected:
        yield connected


async def test_push_then_push_again_creates_nothing_new(town: Town) -> None:
    (town.root / "tasks.toml").write_text(BOOK_PIPELINE)
    report = await svc.push(town)
    assert len(report.created) == 5
    assert report.skipped == []
    tasks = await town.channel.list_tasks()
    assert sorted(t.plan_id or "" for t in tasks) == sorted(
        ["profile-epic", "design", "implement", "test", "review"]
    )
    assert all(t.state is TaskState.PENDING and t.assigned_to is None for t in tasks)
    # No agent of the plan exists yet: every task waits in the backlog, nothing is stranded.
    assert await town.channel.backlog_len() == 5
    assert report.unknown_agents == ["architect", "developer", "reviewer", "tester"]
    again = await svc.push(town)
    assert again.created == []
    assert len(again.skipped) == 5
    assert len(await town.channel.list_tasks()) == 5
    assert await town.channel.backlog_len() == 5


async def test_push_without_file_or_with_a_bad_file_writes_nothing(town: Town) -> None:
    with pytest.raises(PlanError, match=r"No tasks\.toml found"):
        await svc.push(town)
    (town.root / "tasks.toml").write_text('[[tasks]]\nid = "a"\ndescription = "x"\nstatus = "?"\n')
    with pytest.raises(PlanError, match="line 4"):
        await svc.push(town)
    assert await town.channel.list_tasks() == []


async def test_pull_snapshots_states_back_into_the_file(town: Town) -> None:
    path = town.root / "tasks.toml"
    path.write_text(BOOK_PIPELINE)
    report = await svc.push(town)
    by_id = {e.id: t for e, t in report.created}
    worker = Agent.new("developer-1", "claude", utcnow())
    await town.channel.set_agent(worker)
    now = utcnow()
    await town.channel.set_task(by_id["design"].completed("done", now))
    await town.channel.set_task(by_id["implement"].assigned(worker.id, now).started(now))
    extra = Task.new("Found during review", now, tags=["plan:hotfix"])
    await town.channel.set_task(extra)
    adhoc = Task.new("not in the plan", now)
    await town.channel.set_task(adhoc)
    pulled = await svc.pull(town)
    assert pulled.count == 7
    assert sorted(pulled.added) == sorted(["hotfix", str(adhoc.id)])  # ad-hoc: by task id
    reread = read_plan(path)
    assert reread is not None
    status = {e.id: (e.status, e.agent) for e in reread.tasks}
    assert status["design"] == ("completed", "architect")
    assert status["implement"] == ("running", "developer-1")
    assert status["hotfix"] == ("pending", None)
    assert reread.meta.description == "User Profile Feature Pipeline"
    assert tomllib.loads(path.read_text())["tasks"][1]["parent"] == "profile-epic"


async def test_pull_refuses_an_invalid_file_and_leaves_it_alone(town: Town) -> None:
    path = town.root / "tasks.toml"
    broken = '[[tasks]]\nid = "a"\ndescription = "x\n'
    path.write_text(broken)
    await town.channel.set_task(Task.new("t", utcnow(), tags=["plan:a"]))
    with pytest.raises(PlanError, match="line 3"):
        await svc.pull(town)
    assert path.read_text() == broken


async def test_pull_on_an_empty_town_writes_the_template(town: Town) -> None:
    report = await svc.pull(town)
    assert report.created_template
    assert report.count == 0
    assert (town.root / "tasks.toml").read_text() == TEMPLATE
    again = await svc.pull(town)  # the file exists now: left as it is
    assert not again.created_template
    assert (town.root / "tasks.toml").read_text() == TEMPLATE
