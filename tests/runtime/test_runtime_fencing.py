"""Fenced rounds and contained model processes, with real runtimes and fake models.

* a tool that leaves the round's process group with ``setsid`` is ended with the round
  and cannot complete its task afterwards;
* an actor whose incarnation is bumped underneath it kills its model within a heartbeat;
* agent-side commands carrying a superseded round token are refused and change nothing;
* a cancelled task waiting in an inbox is never shown to a model;
* a SIGKILLed runtime's model processes are ended by the next runtime start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from _rt_support import TT, RtTown, rt_town_fixture, wait_until  # noqa: F401

from tinytown.models import MessageType
from tinytown.models.fencing import ROUND_TOKEN_ENV
from tinytown.procwait import pid_alive

HEARTBEAT_S = 0.2  # FAST_ENV
KILL_GRACE_S = 0.5


def _task_id(out: str) -> str:
    return next(w for w in out.split() if w.count("-") == 4)


def _pids(rt_town: RtTown, label: str) -> list[int]:
    if not rt_town.pids_dir.exists():
        return []
    return [int(f.name) for f in rt_town.pids_dir.iterdir()
            if f.name.isdigit() and f.read_text().strip() == label]


def test_a_setsid_tool_is_ended_with_its_round_and_completes_nothing(rt_town: RtTown) -> None:
    rt_town.ok("spawn", "w", "--model", "setsid", "--max-rounds", "1")
    task_id = _task_id(rt_town.ok("assign", "w", "Run a stray tool"))
    wait_until(lambda: _pids(rt_town, "setsid tool"), "the tool started")
    (tool,) = _pids(rt_town, "setsid tool")
    assert os.getsid(tool) == tool  # it really left the round's session
    log = rt_town.root / ".tt" / "logs" / f"{rt_town.agent('w')['id']}.log"
    wait_until(lambda: "timed out" in log.read_text(), "the round timed out (2 s)", timeout=20)
    # The runtime ends what is left of the round before it settles it.
    wait_until(lambda: not pid_alive(tool), "the setsid tool ended", timeout=KILL_GRACE_S + 5)
    assert "🧹 Ended" in log.read_text()
    assert rt_town.task(task_id)["state"] != "completed"
    assert "stray" not in rt_town.task(task_id).get("result", "")


def test_a_superseded_actor_kills_its_model_within_a_heartbeat(
    rt_town: RtTown, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SLEEP_S", "60")
    rt_town.ok("spawn", "w", "--model", "slow")
    aid = rt_town.agent("w")["id"]
    rt_town.ok("assign", "w", "A long job")
    wait_until(lambda: _pids(rt_town, "fake_model"), "model running")
    (model,) = _pids(rt_town, "fake_model")
    token = rt_town.agent("w")["round_token"]
    rt_town.r.hincrby(rt_town.keys.agent(aid), "incarnation", 1)  # another runtime took over
    start = time.monotonic()
    wait_until(lambda: not pid_alive(model), "the model ended", timeout=10)
    waited = time.monotonic() - start
    # One heartbeat to notice, then SIGTERM (the fake model dies at once); the slack is for
    # a loaded machine: the model would otherwise run for another minute.
    assert waited < HEARTBEAT_S + KILL_GRACE_S + 4.0, waited
    log = rt_town.root / ".tt" / "logs" / f"{rt_town.agent('w')['id']}.log"
    wait_until(lambda: "Round 1 cancelled: this incarnation was superseded" in log.read_text(),
               "the round logged as superseded")
    # The round's token no longer opens anything.
    res = _tt_with_token(rt_town, token, "send", "w", "from a dead round")
    assert res.returncode == 7, res
    assert "Refused" in res.stderr
    assert "nothing was changed" in res.stderr


def _tt_with_token(rt_town: RtTown, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, ROUND_TOKEN_ENV: token}
    return subprocess.run([TT, *args], capture_output=True, text=True, cwd=rt_town.root,
                          env=env, timeout=60, check=False)


def test_commands_from_a_superseded_round_are_refused_and_change_nothing(
    rt_town: RtTown, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SLEEP_S", "60")
    rt_town.ok("spawn", "w", "--model", "slow")
    aid = rt_town.agent("w")["id"]
    task_id = _task_id(rt_town.ok("assign", "w", "A long job"))
    wait_until(lambda: rt_town.agent("w").get("round_token"), "round running")
    token = rt_town.agent("w")["round_token"]
    assert token.startswith(f"{aid}/")
    # From the live round, the token is accepted (a read-only command here).
    assert _tt_with_token(rt_town, token, "task", "current", "w").returncode == 0
    stale = token.rsplit("/", 1)[0] + "/99"
    inbox_before = rt_town.queued(aid)
    for args in (("task", "complete", task_id, "--result", "stale"),
                 ("send", "w", "hello from the past"),
                 ("assign", "w", "more work")):
        res = _tt_with_token(rt_town, stale, *args)
        assert res.returncode == 7, (args, res)
        assert res.stderr.count("\n") == 1, res.stderr
        assert "Refused" in res.stderr
    assert rt_town.task(task_id)["state"] == "running"
    assert rt_town.queued(aid) == inbox_before
    bad = _tt_with_token(rt_town, "not-a-token", "status")
    assert bad.returncode == 6
    assert "Invalid round token" in bad.stderr


def test_a_cancelled_task_in_the_inbox_is_never_worked(rt_town: RtTown) -> None:
    rt_town.ok("spawn", "w", "--model", "ok")
    rt_town.ok("kill", "w")
    wait_until(lambda: rt_town.state("w") == "stopped", "agent stopped")
    aid = rt_town.agent("w")["id"]
    doomed = _task_id(rt_town.ok("assign", "w", "Do not do this"))
    kept = _task_id(rt_town.ok("assign", "w", "Do this"))
    _cancel(rt_town, doomed)
    assert rt_town.queued(aid) == (0, 1, 0)  # the cancelled assignment left the inbox
    # Put a stale copy back, as a redelivery after a crash would: still never worked.
    rt_town.r.lpush(rt_town.keys.inbox(aid), *_assign_raw(rt_town, aid, doomed))
    rt_town.ok("restart", "w")
    wait_until(lambda: rt_town.task(kept)["state"] == "completed", "the other task done")
    wait_until(lambda: rt_town.queued(aid) == (0, 0, 0), "queues drained")
    seen = {text for *_, text in rt_town.seen_lines()}
    assert kept in seen
    assert doomed not in seen
    assert rt_town.task(doomed)["state"] == "cancelled"


def _cancel(rt_town: RtTown, task_id: str) -> None:
    import trio

    from tinytown.services import tasks
    from tinytown.town import Town

    async def run() -> None:
        async with Town.connect(rt_town.root) as town:
            await tasks.cancel(town, task_id)

    trio.run(run)


def _assign_raw(rt_town: RtTown, aid: str, task_id: str) -> list[str]:
    from tinytown.codec import message_to_json
    from tinytown.models import SUPERVISOR, AgentId, Message

    msg = Message(from_=SUPERVISOR, to=AgentId.parse(aid),
                  kind=MessageType.TaskAssign(task_id=task_id))
    return [message_to_json(msg)]


def test_the_next_runtime_ends_the_models_a_sigkilled_runtime_left(
    rt_town: RtTown, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SLEEP_S", "60")
    rt_town.ok("spawn", "w", "--model", "slow")
    task_id = _task_id(rt_town.ok("assign", "w", "A long job"))
    wait_until(lambda: _pids(rt_town, "fake_model"), "model running")
    (model,) = _pids(rt_town, "fake_model")
    for pid in rt_town.runtime_pids():
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not rt_town.runtime_pids(), "runtime gone")
    assert pid_alive(model)  # orphaned, still running
    rt_town.ok("start", "--detach")
    wait_until(lambda: not pid_alive(model), "the orphan ended", timeout=10)
    # The redelivered round runs a new model for the same task.
    wait_until(lambda: len(_pids(rt_town, "fake_model")) == 2, "the task redelivered")
    assert rt_town.task(task_id)["state"] == "running"


def test_recover_and_stop_end_orphaned_models(
    rt_town: RtTown, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FAKE_SLEEP_S", "60")
    rt_town.ok("spawn", "w", "--model", "slow")
    rt_town.ok("assign", "w", "A long job")
    wait_until(lambda: _pids(rt_town, "fake_model"), "model running")
    (model,) = _pids(rt_town, "fake_model")
    for pid in rt_town.runtime_pids():
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not rt_town.runtime_pids(), "runtime gone")
    aid = rt_town.agent("w")["id"]
    incarnation = int(rt_town.agent("w")["incarnation"])
    out = rt_town.ok("recover", "--threshold", "0.001")
    assert "Ended 1 model process(es)" in out
    assert not pid_alive(model)
    agent = rt_town.agent("w")
    assert agent["state"] == "stopped"
    assert int(agent["incarnation"]) == incarnation + 1
    assert rt_town.queued(aid)[2] == 0  # processing moved back in the same step
    assert rt_town.queued(aid)[1] == 1
