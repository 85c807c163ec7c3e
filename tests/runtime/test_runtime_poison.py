"""Poison messages go to the agent's dead-letter list; the agent keeps working.

Deeply nested JSON, a body over the size limit and fields of the wrong type are
queued with the agent's real work. The round sets them aside with the reason
(``tt inbox`` and ``tt status --deep`` show them), completes the real task, and
no listing or status command fails over them.
"""

from __future__ import annotations

import json

from _rt_support import RtTown, rt_town_fixture, wait_until  # noqa: F401

from tinytown.runtime.intake import MAX_MESSAGE_BYTES


def _task_id(out: str) -> str:
    return next(w for w in out.split() if w.count("-") == 4)


def test_poison_is_dead_lettered_and_the_agent_keeps_working(rt_town: RtTown) -> None:
    rt_town.ok("spawn", "w", "--model", "ok")
    rt_town.ok("kill", "w")
    wait_until(lambda: rt_town.state("w") == "stopped", "agent stopped")
    aid = rt_town.agent("w")["id"]
    poison = [
        "[" * 10_000 + "]" * 10_000,
        json.dumps({"id": "x", "from": aid, "to": aid, "type": "task", "description": "y" * (
            MAX_MESSAGE_BYTES + 10)}),
        json.dumps({"id": 7, "from": [], "to": {}, "type": "task_assign", "task_id": 12}),
    ]
    rt_town.r.rpush(rt_town.keys.inbox(aid), *poison)
    task_id = _task_id(rt_town.ok("assign", "w", "Real work"))
    # Listings cope with the poison while it is still queued.
    assert rt_town.tt("inbox", "w").code == 0
    assert rt_town.tt("status", "--deep").code == 0
    rt_town.ok("restart", "w")
    wait_until(lambda: rt_town.task(task_id).get("state") == "completed", "real work done")
    wait_until(lambda: rt_town.queued(aid) == (0, 0, 0), "queues drained")
    assert rt_town.r.llen(rt_town.keys.deadletter(aid)) == 3
    assert rt_town.state("w") in ("idle", "working")
    inbox = rt_town.ok("inbox", "w")
    assert "☠️ 3 dead-lettered message(s)" in inbox
    assert "byte limit" in inbox
    assert "invalid JSON" in inbox
    status = rt_town.ok("status", "--deep")
    assert "☠️ 3 dead-lettered message(s)" in status
    doc = json.loads(rt_town.ok("inbox", "w", "--json"))
    assert doc["dead_letters"] == 3
    # A corrupt dead-letter entry is skipped, never fatal.
    rt_town.r.rpush(rt_town.keys.deadletter(aid), "{not json")
    assert "☠️ 4 dead-lettered message(s)" in rt_town.ok("inbox", "w")
    assert rt_town.tt("status", "--deep").code == 0
