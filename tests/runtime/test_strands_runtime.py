"""No silent strands (issue 9, items 2 and 3), through the installed ``tt``.

A dead runtime is reported by ``status``/``list``/``inbox`` and started again
by ``assign``/``send``; idle agents keep waiting unless the user sets an idle
timeout, and work sent to an agent that will not run is warned about.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest
from _rt_support import TT, RtTown, rt_town_fixture, set_idle_timeout, wait_until  # noqa: F401

from tinytown.config import load_town_config
from tinytown.models import MessageType
from tinytown.procwait import pid_alive
from tinytown.runtime.procfiles import read_pid, runtime_pidfile


def _task_id(out: str) -> str:
    return next(w for w in out.split() if w.count("-") == 4)


def _kill_runtime(rt_town: RtTown) -> int:
    pid = read_pid(runtime_pidfile(rt_town.root))
    assert pid is not None
    assert pid_alive(pid)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid), "runtime dead")
    return pid


def test_a_dead_runtime_is_reported_and_assign_and_send_start_it_again(rt_town: RtTown) -> None:
    rt_town.ok("spawn", "w", "--model", "ok")
    wait_until(lambda: rt_town.state("w") == "idle", "agent idle")
    dead = _kill_runtime(rt_town)
    assert rt_town.state("w") == "idle"  # the record still looks alive

    warning = (f"⚠️  Runtime: not running on this host (pid {dead} is gone); "
               "1 agent(s) will not run until it starts.")
    for command in (["status"], ["list"], ["inbox", "w"], ["inbox", "--all"]):
        assert warning in rt_town.ok(*command).splitlines(), command
    recover = rt_town.ok("recover").splitlines()  # too recent to recover, but not silent
    assert recover[-2] == warning
    doc = json.loads(rt_town.ok("status", "--json"))
    assert doc["runtime"]["running"] is False
    assert doc["runtime"]["waiting"] == ["w"]

    res = rt_town.tt("assign", "w", "Work after the crash")
    assert res.code == 0, res
    assert "🚀 The town's runtime was not running; started it (pid" in res.err
    task_id = _task_id(res.out)
    wait_until(lambda: rt_town.task(task_id).get("state") == "completed", "task done")
    assert not any(line.startswith("⚠️") for line in rt_town.ok("status").splitlines())
    assert json.loads(rt_town.ok("list", "--json"))["runtime"]["running"] is True

    _kill_runtime(rt_town)
    res = rt_town.tt("send", "w", "Another piece of work")
    assert res.code == 0, res
    assert "🚀 The town's runtime was not running; started it (pid" in res.err
    wait_until(lambda: rt_town.queued(rt_town.agent("w")["id"]) == (0, 0, 0), "message handled")


def test_new_towns_do_not_stop_idle_agents(rt_town: RtTown) -> None:
    assert "idle_timeout_secs" not in (rt_town.root / "tinytown.toml").read_text()
    assert load_town_config(rt_town.root).agent.idle_timeout_s == 0
    rt_town.ok("spawn", "w", "--model", "ok")
    wait_until(lambda: rt_town.state("w") == "idle", "agent idle")
    log = rt_town.root / ".tt" / "logs" / f"{rt_town.agent('w')['id']}.log"
    wait_until(lambda: "Idle timeout" in log.read_text(), "loop started")
    assert "   Idle timeout: none (waits for work)" in log.read_text().splitlines()


@pytest.mark.slow
def test_work_for_an_agent_stopped_by_its_idle_timeout_is_flagged(rt_town: RtTown) -> None:
    set_idle_timeout(rt_town.root, 1)  # a value the user sets keeps 0.10's meaning
    rt_town.ok("spawn", "w", "--model", "ok")
    wait_until(lambda: rt_town.state("w") == "stopped", "idled out", timeout=30)
    status = rt_town.ok("status").splitlines()
    assert ("💤 w stopped after its idle timeout ([agent] idle_timeout_secs in tinytown.toml); "
            "'tt restart w'") in status
    assert json.loads(rt_town.ok("status", "--json"))["agents"][0]["stopped_for_idleness"]

    res = rt_town.tt("assign", "w", "Work nobody will do")
    assert res.code == 0, res
    assert res.err.splitlines() == [
        "⚠️  'w' will not run this yet: it is Stopped; restart it with 'tt restart w'"
    ]
    res = rt_town.tt("send", "w", "--query", "Are you there?")
    assert res.code == 0
    assert "⚠️  'w' will not run this yet: it is Stopped" in res.err
    flagged = ("⚠️  w (Stopped) has 2 pending message(s) that will not run: "
               "it is Stopped; restart it with 'tt restart w'")
    assert flagged in rt_town.ok("status").splitlines()
    assert flagged in rt_town.ok("list").splitlines()
    assert flagged in rt_town.ok("inbox", "w").splitlines()
    stranded = json.loads(rt_town.ok("list", "--json"))["stranded"]
    assert [(s["name"], s["pending"]) for s in stranded] == [("w", 2)]


def test_tt_start_after_spawn_follows_the_running_runtime_and_detaches(rt_town: RtTown) -> None:
    """Item 8: the book's quick start runs 'tt start' after 'tt spawn' started the runtime."""
    rt_town.ok("spawn", "w", "--model", "ok")
    (pid,) = rt_town.runtime_pids()
    proc = subprocess.Popen([TT, "start"], cwd=rt_town.root, env=os.environ.copy(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    rt_town.procs.append(proc)  # type: ignore[arg-type]
    assert proc.stdout is not None
    assert proc.stdout.readline() == (
        f"🚀 Town runtime already running (pid {pid}), hosting 1 agent(s)\n")
    assert proc.stdout.readline() == (
        "   Following .tt/logs/runtime.log (Ctrl+C detaches; the runtime keeps running)\n")
    task_id = _task_id(rt_town.ok("assign", "w", "Work while attached"))
    wait_until(lambda: rt_town.task(task_id).get("state") == "completed", "task done")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert out.splitlines()[-1] == "👋 Detached (the runtime keeps running)"
    assert pid_alive(pid)


def test_work_for_an_agent_of_a_vanished_foreground_runtime_is_handed_to_the_runtime(
    rt_town: RtTown,
) -> None:
    """Item 3: 'tt spawn --foreground' killed with its terminal; assign still gets it run."""
    proc = subprocess.Popen([TT, "spawn", "fg", "--model", "ok", "--foreground"],
                            cwd=rt_town.root, env=os.environ.copy(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rt_town.procs.append(proc)  # type: ignore[arg-type]
    wait_until(lambda: rt_town.state("fg") == "idle", "foreground agent idle")
    proc.kill()
    proc.wait()
    aid = rt_town.agent("fg")["id"]
    rt_town.send(aid, MessageType.Query(question="Still there?"))
    flagged = [line for line in rt_town.ok("list").splitlines() if line.startswith("⚠️  fg")]
    assert flagged == ["⚠️  fg (Idle) has 1 pending message(s) that will not run: the terminal "
                       "that ran it ('tt spawn --foreground') is gone; any 'tt assign' or "
                       "'tt send' to it hands it to the town's runtime"]
    res = rt_town.tt("assign", "fg", "Work after the terminal closed")
    assert res.code == 0, res
    assert "🚀 The town's runtime was not running; started it (pid" in res.err
    task_id = _task_id(res.out)
    wait_until(lambda: rt_town.task(task_id).get("state") == "completed", "task done")
    assert ":fg:" not in rt_town.agent("fg")["host"]
