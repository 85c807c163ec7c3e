"""``tt sync`` and ``tt prune`` never strand tasks (issue 9, items 4, 5), via the installed tt.

push delivers entries with ``agent =`` to that agent and puts the others in
the backlog, idempotently; pull keeps the file's comments and unknown keys
and includes ad-hoc tasks, which a later push does not duplicate.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from _work_helpers import in_town
from conftest import TT

from tinytown.models import Agent
from tinytown.town import Town, utcnow

PLAN = """\
# Sprint plan, reviewed in PRs
[meta]
description = "Sprint 1"
owner = "team-a"   # not a tinytown key

[[tasks]]
id = "api"
description = "Build the API"
agent = "backend"
status = "pending"  # set by hand
estimate = 3

# QA work follows
[[tasks]]
id = "qa"
description = "Test the API"
status = "pending"
"""


def _register(town_dir: Path, name: str) -> str:
    async def body(town: Town) -> str:
        agent = Agent.new(name, "claude", utcnow())
        await town.channel.set_agent(agent)
        return str(agent.id)

    return in_town(town_dir, body)


def test_sync_push_delivers_or_backlogs_and_pull_keeps_the_users_file(
    tt: TT, tt_proc: TT, town_dir: Path
) -> None:
    _register(town_dir, "backend")
    (town_dir / "tasks.toml").write_text(PLAN)

    pushed = tt_proc("sync", "push")
    assert pushed.code == 0, pushed.err
    assert pushed.out.splitlines() == [
        "⬆️  Pushed 2 tasks from tasks.toml to Redis",
        "   📋 Assigned 1 task(s) to 'backend'",
        "   📥 Put 1 task(s) in the backlog",
    ]
    assert "unknown field 'estimate'" in pushed.err
    assert "kept, not used" in pushed.err
    inbox = json.loads(tt("inbox", "backend", "--json").out)
    assert (inbox["length"], inbox["counts"]["tasks"]) == (1, 1)
    backlog = json.loads(tt("backlog", "list", "--json").out)
    (entry,) = backlog["entries"]
    assert entry["task"]["description"] == "Test the API"
    assert tt("backlog", "claim", entry["task_id"], "backend").code == 0

    again = tt_proc("sync", "push")  # idempotent: nothing new, nothing re-queued
    assert again.out.splitlines()[0] == "⬆️  Pushed 0 tasks from tasks.toml to Redis"
    assert json.loads(tt("inbox", "backend", "--json").out)["length"] == 2
    assert json.loads(tt("backlog", "list", "--json").out)["entries"] == []

    assert tt("assign", "backend", "Hotfix the login").code == 0  # ad-hoc work
    pulled = tt_proc("sync", "pull")
    assert pulled.code == 0, pulled.err
    text = (town_dir / "tasks.toml").read_text()
    for kept in ("# Sprint plan, reviewed in PRs", 'owner = "team-a"   # not a tinytown key',
                 "estimate = 3", "# QA work follows", 'status = "assigned"  # set by hand'):
        assert kept in text, kept
    entries = {t["description"]: t for t in tomllib.loads(text)["tasks"]}
    assert entries["Test the API"]["agent"] == "backend"
    assert entries["Hotfix the login"]["agent"] == "backend"
    assert entries["Hotfix the login"]["status"] == "assigned"

    final = tt_proc("sync", "push")  # the pulled ad-hoc task is not created twice
    assert final.out.splitlines()[0] == "⬆️  Pushed 0 tasks from tasks.toml to Redis"
    assert json.loads(tt("inbox", "backend", "--json").out)["length"] == 3


def test_prune_moves_pending_tasks_to_the_backlog(tt: TT, tt_proc: TT, town_dir: Path) -> None:
    """Issue 9 item 5: tasks queued for a pruned agent, even in flight, go to the backlog."""
    aid = _register(town_dir, "gone")
    _register(town_dir, "heir")
    first = tt("assign", "gone", "Queued work")
    second = tt("assign", "gone", "Work a killed runtime left in flight")
    task_ids = [next(w for w in r.out.split() if w.count("-") == 4) for r in (first, second)]
    assert tt("send", "gone", "--query", "Status?").code == 0

    async def in_flight(town: Town) -> None:  # as a runtime killed mid-round leaves it
        keys = town.channel.keys
        await town.redis.execute("LMOVE", keys.inbox(aid), keys.processing(aid), "RIGHT", "LEFT")
        await town.redis.execute("LMOVE", keys.inbox(aid), keys.processing(aid), "LEFT", "LEFT")

    in_town(town_dir, in_flight)
    assert tt("kill", "gone").code == 0
    res = tt_proc("prune")
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert lines[0].startswith("🗑️  Removed gone (")
    assert lines[1].startswith("   📥 Moved 2 pending task(s) to the backlog: ")
    assert {t[:8] for t in task_ids} == set(lines[1].rsplit(": ", 1)[1].split(", "))
    assert lines[2] == "   🗑️  Dropped 1 other message(s) (queries, updates)"
    backlog = json.loads(tt("backlog", "list", "--json").out)["entries"]
    assert sorted(e["task_id"] for e in backlog) == sorted(task_ids)
    assert {e["task"]["state"] for e in backlog} == {"pending"}
    assert tt("backlog", "claim", task_ids[0], "heir").code == 0
