"""End to end with the installed ``tt``: spawn, assign, urgent order, kill, restart."""

from __future__ import annotations

import pytest
from _rt_support import RtTown, rt_town_fixture, wait_until  # noqa: F401

from tinytown.models import MessageType


def _task_id(out: str) -> str:
    # "📋 Assigned task <uuid> to agent '<name>'"
    return next(w for w in out.split() if w.count("-") == 4)


def test_spawn_assign_demo_agent_completes_the_task(
    rt_town: RtTown, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINYTOWN_DEMO_DELAY_S", "0")
    out = rt_town.ok("spawn", "worker-1", "--model", "demo")
    assert "🤖 Spawned agent 'worker-1' using model 'demo'" in out
    assert "🔄 Starting agent loop in background (max 10 rounds)..." in out
    assert f"   Logs: .tt/logs/{rt_town.agent('worker-1')['id']}.log" in out
    assert len(rt_town.runtime_pids()) == 1
    task_id = _task_id(rt_town.ok("assign", "worker-1", "Write the hello module"))
    wait_until(lambda: rt_town.task(task_id).get("state") == "completed", "task completed")
    wait_until(lambda: rt_town.state("worker-1") == "idle", "agent idle again")
    agent = rt_town.agent("worker-1")
    assert agent["tasks_completed"] == "1"
    assert agent["rounds_completed"] == "1"
    assert rt_town.queued(agent["id"]) == (0, 0, 0)
    assert (rt_town.root / ".tt" / "logs" / f"{agent['id']}_round_1.log").exists()
    log = (rt_town.root / ".tt" / "logs" / f"{agent['id']}.log").read_text()
    assert "✅ Round 1 complete" in log


def test_urgent_messages_are_handled_before_normal_ones(
    rt_town: RtTown, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SLEEP_S", "1.0")
    rt_town.ok("spawn", "busy", "--model", "slow")
    aid = rt_town.agent("busy")["id"]
    rt_town.send(aid, MessageType.Task(description="first"))
    wait_until(lambda: rt_town.state("busy") == "working", "first round running")
    rt_town.send(aid, MessageType.Task(description="normal-1"))
    rt_town.send(aid, MessageType.Task(description="normal-2"))
    rt_town.send(aid, MessageType.Task(description="urgent-1"), urgent=True)
    wait_until(lambda: len(rt_town.seen_lines()) >= 4, "second round seen")
    seen = [(flag, text) for _, flag, text in rt_town.seen_lines()]
    assert seen == [("N", "first"), ("U", "urgent-1"), ("N", "normal-1"), ("N", "normal-2")]


def test_kill_during_a_round_finishes_the_round_then_stops(
    rt_town: RtTown, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SLEEP_S", "1.0")
    rt_town.ok("spawn", "worker", "--model", "slow")
    task_id = _task_id(rt_town.ok("assign", "worker", "Long job"))
    wait_until(lambda: rt_town.state("worker") == "working", "round running")
    assert rt_town.task(task_id)["state"] == "running"
    out = rt_town.ok("kill", "worker")
    assert "Requested stop" in out
    wait_until(lambda: rt_town.task(task_id).get("state") == "completed", "round finished")
    wait_until(lambda: not rt_town.runtime_pids(), "runtime exits with no agents left")
    agent = rt_town.agent("worker")
    assert agent["state"] == "stopped"
    assert agent["rounds_completed"] == "1"
    log = (rt_town.root / ".tt" / "logs" / f"{agent['id']}.log").read_text()
    assert log.index("✅ Round 1 complete") < log.index("🛑 Stop requested")
    assert "Round 2: 🛑 stopped by request" in rt_town.activity(agent["id"])
    assert not rt_town.r.exists(rt_town.keys.stop(agent["id"]))


def test_restart_keeps_the_id_and_gives_fresh_rounds(rt_town: RtTown) -> None:
    rt_town.ok("spawn", "w", "--model", "ok", "--max-rounds", "1")
    first = rt_town.agent("w")["id"]
    t1 = _task_id(rt_town.ok("assign", "w", "one"))
    wait_until(lambda: rt_town.state("w") == "stopped", "stopped after its one round")
    assert rt_town.task(t1)["state"] == "completed"
    out = rt_town.ok("restart", "w", "--rounds", "2")
    assert out.splitlines() == [
        "🔄 Restarting agent 'w'...", "   Rounds: 2", "   Cleaned 1 old round log file(s)",
        f"   Log: .tt/logs/{first}.log", "", "✅ Agent 'w' restarted",
    ]
    t2 = _task_id(rt_town.ok("assign", "w", "two"))
    wait_until(lambda: rt_town.task(t2).get("state") == "completed", "second task done")
    wait_until(lambda: rt_town.agent("w")["rounds_completed"] == "1", "round counted")
    agent = rt_town.agent("w")
    assert agent["id"] == first
    assert agent["max_rounds"] == "2"
    assert agent["tasks_completed"] == "2"
    assert "🔄 Restarted with 2 rounds" in rt_town.activity(first)


def test_restart_refuses_unknown_and_running_agents(rt_town: RtTown) -> None:
    res = rt_town.tt("restart", "nobody")
    assert res.code == 3
    assert res.err.strip() == "Error: Agent not found: nobody"
    rt_town.ok("spawn", "alive", "--model", "ok")
    res = rt_town.tt("restart", "alive")
    assert res.code == 7
    assert "is still active" in res.err
    assert "use 'tt kill alive' to stop it first" in res.err


def test_restart_with_a_corrupt_activity_key_restarts(rt_town: RtTown) -> None:
    rt_town.ok("spawn", "w", "--model", "ok", "--max-rounds", "0")
    aid = rt_town.agent("w")["id"]
    wait_until(lambda: rt_town.state("w") == "stopped", "stopped with no rounds")
    rt_town.r.delete(rt_town.keys.activity(aid))
    rt_town.r.set(rt_town.keys.activity(aid), "not a list")
    rt_town.ok("restart", "w", "--rounds", "1")
    task_id = _task_id(rt_town.ok("assign", "w", "after the restart"))
    wait_until(lambda: rt_town.task(task_id).get("state") == "completed", "task done")
