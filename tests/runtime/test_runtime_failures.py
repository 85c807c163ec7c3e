"""A model CLI that fails, hangs, floods or is missing: the agent says why, no task is lost."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

import pytest
from _rt_support import FAKE, RtTown, rt_town_fixture, wait_until  # noqa: F401

from tinytown.config import CliPreset, load_town_config, save_town_config
from tinytown.procwait import pid_alive


def _task_id(out: str) -> str:
    return next(w for w in out.split() if w.count("-") == 4)


def _assert_task_back_in_inbox(rt_town: RtTown, agent_id: str, task_id: str) -> None:
    assert rt_town.task(task_id)["state"] == "assigned"
    assert rt_town.queued(agent_id) == (0, 1, 0)
    raw = rt_town.r.lindex(rt_town.keys.inbox(agent_id), 0)
    assert isinstance(raw, str)
    assert task_id in raw


def test_non_zero_exit_requeues_then_marks_error(rt_town: RtTown) -> None:
    rt_town.ok("spawn", "flaky", "--model", "fail")
    aid = rt_town.agent("flaky")["id"]
    task_id = _task_id(rt_town.ok("assign", "flaky", "Do it"))
    wait_until(lambda: rt_town.state("flaky") == "error", "agent in Error")
    _assert_task_back_in_inbox(rt_town, aid, task_id)
    activity = rt_town.activity(aid)
    assert activity[0] == "❌ Error: model CLI failed 3 rounds in a row (exit status 3)"
    assert "Round 1: ⚠️ CLI error (exit status 3)" in activity
    assert len(rt_town.seen_lines()) == 3  # delivered again after each failure
    assert rt_town.agent("flaky")["rounds_completed"] == "3"
    assert "fake model failing on purpose" in (
        rt_town.root / ".tt" / "logs" / f"{rt_town.agent('flaky')['id']}_round_1.log"
    ).read_text()


def test_hanging_model_is_killed_with_its_children_at_the_timeout(
    rt_town: RtTown, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINYTOWN_MAX_FAILED_ROUNDS", "1")
    rt_town.ok("spawn", "stuck", "--model", "hang")
    aid = rt_town.agent("stuck")["id"]
    task_id = _task_id(rt_town.ok("assign", "stuck", "Never ends"))
    wait_until(lambda: rt_town.state("stuck") == "error", "agent in Error", timeout=20)
    _assert_task_back_in_inbox(rt_town, aid, task_id)
    assert "Round 1: ⚠️ CLI error (timed out after 2s)" in rt_town.activity(aid)
    pids = [int(p.name) for p in rt_town.pids_dir.iterdir()]
    assert len(pids) == 2  # the model and the child it started
    wait_until(lambda: not any(pid_alive(p) for p in pids), "model process group gone")


def test_flooding_output_goes_to_the_round_log(rt_town: RtTown) -> None:
    rt_town.ok("spawn", "loud", "--model", "flood")
    task_id = _task_id(rt_town.ok("assign", "loud", "Talk a lot"))
    wait_until(lambda: rt_town.task(task_id).get("state") == "completed", "task completed")
    wait_until(lambda: rt_town.state("loud") == "idle", "agent idle")
    round_log = rt_town.root / ".tt" / "logs" / f"{rt_town.agent('loud')['id']}_round_1.log"
    size = round_log.stat().st_size
    assert size >= 30 * 2**20


def test_model_missing_at_run_time_marks_error_and_keeps_the_task(
    rt_town: RtTown, tmp_path: Path
) -> None:
    script = tmp_path / "bin" / "vanishing-model"
    script.parent.mkdir()
    script.write_text(f"#!/bin/sh\nexec {sys.executable} {FAKE} ok\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    cfg = load_town_config(rt_town.root)
    cfg.agent_clis["vanishing"] = CliPreset("vanishing", str(script))
    save_town_config(rt_town.root, cfg)
    rt_town.ok("spawn", "ghost", "--model", "vanishing")
    aid = rt_town.agent("ghost")["id"]
    wait_until(lambda: rt_town.state("ghost") == "idle", "agent idle")
    script.unlink()
    task_id = _task_id(rt_town.ok("assign", "ghost", "Anything"))
    wait_until(lambda: rt_town.state("ghost") == "error", "agent in Error")
    _assert_task_back_in_inbox(rt_town, aid, task_id)
    activity = rt_town.activity(aid)
    assert activity[0].startswith("❌ Error: ")
    assert "not found" in activity[0]
    assert any(line.startswith("Round 1: ❌ failed: ") for line in activity)
    assert rt_town.agent("ghost")["rounds_completed"] == "0"


def test_spawn_refuses_models_that_are_not_installed(rt_town: RtTown) -> None:
    res = rt_town.tt("spawn", "x", "--model", "no-such-tool-xyz")
    assert res.code == 1
    assert res.err.startswith("Error: Unknown model 'no-such-tool-xyz': not a preset (")
    if shutil.which("gemini", path=os.environ.get("PATH")) is None:
        res = rt_town.tt("spawn", "x", "--model", "gemini")
        assert res.code == 1
        assert res.err.strip() == (
            "Error: Model CLI 'gemini' is not installed: 'gemini' not found on PATH. "
            "To try tinytown without it, spawn with '--model demo' (an offline demo model) "
            "or run 'tt demo'"
        )
    assert rt_town.agents() == {}
    assert not rt_town.runtime_pids()


def test_a_corrupt_activity_key_does_not_kill_the_agent(rt_town: RtTown) -> None:
    rt_town.ok("spawn", "scribe", "--model", "ok")
    aid = rt_town.agent("scribe")["id"]
    wait_until(lambda: rt_town.state("scribe") == "idle", "agent idle")
    rt_town.r.delete(rt_town.keys.activity(aid))
    rt_town.r.set(rt_town.keys.activity(aid), "not a list")  # written by something else
    task_id = _task_id(rt_town.ok("assign", "scribe", "Work despite the junk"))
    wait_until(lambda: rt_task_state(rt_town, task_id) == "completed", "task completed")
    wait_until(lambda: rt_town.state("scribe") == "idle", "agent idle again")
    assert rt_town.queued(aid) == (0, 0, 0)
    assert rt_town.r.get(rt_town.keys.activity(aid)) == "not a list"


def rt_task_state(rt_town: RtTown, task_id: str) -> str:
    return rt_town.task(task_id).get("state", "")
