"""``tt spawn`` validation, ``--foreground``, and ``tt start`` with Ctrl+C / SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from _rt_support import TT, RtTown, rt_town_fixture, wait_until  # noqa: F401

from tinytown.procwait import pid_alive


def _task_id(out: str) -> str:
    return next(w for w in out.split() if w.count("-") == 4)


RESERVED = "is reserved for the well-known supervisor/conductor mailbox"


@pytest.mark.parametrize(
    ("name", "code", "error"),
    [
        ("supervisor", 6, f"Error: 'supervisor' {RESERVED}"),
        ("Conductor", 6, f"Error: 'conductor' {RESERVED}"),
        ("bad name", 6,
         "Error: Agent name 'bad name' may only contain letters, digits, '-', '_' and '.'"),
        ("  ", 6, "Error: Agent name must not be empty"),
    ],
)
def test_spawn_rejects_bad_names(rt_town: RtTown, name: str, code: int, error: str) -> None:
    res = rt_town.tt("spawn", name, "--model", "ok")
    assert (res.code, res.err.strip()) == (code, error)
    assert rt_town.agents() == {}


def test_spawn_rejects_a_name_taken_by_a_live_agent_and_negative_rounds(rt_town: RtTown) -> None:
    rt_town.ok("spawn", "dup", "-m", "ok")
    res = rt_town.tt("spawn", "dup", "-c", "ok")
    assert res.code == 7
    assert res.err.startswith("Error: Agent 'dup' already exists (")
    res = rt_town.tt("spawn", "other", "-m", "ok", "--max-rounds", "-1")
    assert res.code == 6
    assert list(rt_town.agents()) == ["dup"]
    rt_town.ok("kill", "dup")
    wait_until(lambda: rt_town.state("dup") == "stopped", "stopped")
    rt_town.ok("spawn", "dup", "-m", "ok")  # a stopped agent's name is free again


def _popen_tt(rt_town: RtTown, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([TT, *args], cwd=rt_town.root, env=os.environ.copy(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    rt_town.procs.append(proc)  # type: ignore[arg-type]
    return proc


def test_spawn_foreground_runs_in_the_terminal_until_the_agent_stops(rt_town: RtTown) -> None:
    proc = _popen_tt(rt_town, "spawn", "fg", "--model", "ok", "--max-rounds", "1", "--foreground")
    wait_until(lambda: rt_town.state("fg") == "idle", "foreground agent idle")
    assert ":fg:" in rt_town.agent("fg")["host"]
    assert read_pidfile_absent(rt_town)
    task_id = _task_id(rt_town.ok("assign", "fg", "Foreground work"))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0] == "🤖 Spawned agent 'fg' using model 'ok'"
    assert lines[2].startswith("   Command: ")
    assert lines[2].endswith("fake_model.py ok")
    assert lines[3] == "🔄 Running agent loop (max 1 rounds)..."
    assert "   ✅ Round 1 complete" in lines
    assert lines[-1] == "✅ Agent 'fg' completed"
    assert rt_town.task(task_id)["state"] == "completed"
    assert rt_town.state("fg") == "stopped"


def read_pidfile_absent(rt_town: RtTown) -> bool:
    return not (rt_town.root / ".tt" / "runtime.pid").exists()


def _start_and_run_a_round(rt_town: RtTown, monkeypatch: pytest.MonkeyPatch
                           ) -> tuple[subprocess.Popen[str], str, str]:
    monkeypatch.setenv("FAKE_SLEEP_S", "30")
    proc = _popen_tt(rt_town, "start")
    assert proc.stdout is not None
    assert proc.stdout.readline() == "🚀 Town connection open\n"
    rt_town.ok("spawn", "w", "--model", "slow")
    assert rt_town.runtime_pids() == {proc.pid}  # spawn used the foreground runtime
    task_id = _task_id(rt_town.ok("assign", "w", "Slow work"))
    wait_until(lambda: rt_town.task(task_id).get("state") == "running", "round running")
    wait_until(lambda: rt_town.pids_dir.exists() and any(rt_town.pids_dir.iterdir()),
               "model started")
    return proc, rt_town.agent("w")["id"], task_id


def test_ctrl_c_on_tt_start_stops_agents_and_returns_their_work(
    rt_town: RtTown, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc, aid, task_id = _start_and_run_a_round(rt_town, monkeypatch)
    model_pid = int(next(rt_town.pids_dir.iterdir()).name)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert "👋 Closing town connection..." in out
    assert not pid_alive(model_pid)
    assert rt_town.state("w") == "stopped"
    assert rt_town.task(task_id)["state"] == "assigned"
    assert rt_town.queued(aid) == (0, 1, 0)
    assert "🛑 Stopped: runtime shut down" in rt_town.activity(aid)
    assert not rt_town.runtime_pids()


def test_sigterm_suspends_agents_and_the_next_start_resumes_them(
    rt_town: RtTown, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc, aid, task_id = _start_and_run_a_round(rt_town, monkeypatch)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    assert rt_town.state("w") == "idle"
    assert rt_town.task(task_id)["state"] == "assigned"
    assert rt_town.queued(aid) == (0, 1, 0)
    monkeypatch.setenv("FAKE_SLEEP_S", "0.01")
    out = rt_town.ok("start", "--detach")
    assert out.startswith("🚀 Town runtime started in background (pid ")
    wait_until(lambda: rt_town.task(task_id).get("state") == "completed", "resumed and done")
    assert rt_town.agent("w")["id"] == aid
    assert rt_town.ok("start", "--detach").startswith("🚀 Town runtime already running (pid ")
    # 'tt start' with the runtime running follows its log: test_strands_runtime.py covers it.
