"""``tt mission …`` through the real CLI entry point (in-process), outputs as missions.md §10."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import attrs
import pytest
import redis as redis_py

from tinytown.cli import context
from tinytown.config import new_town_config, save_town_config
from tinytown.keys import Keys

from .conftest import FakeGh, git_repo

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@attrs.frozen
class Run:
    code: int
    out: str
    err: str


TT = Callable[..., Run]


@pytest.fixture
def tt(tmp_path: Path, town_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch,
       fake_gh: FakeGh) -> TT:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("REDIS_URL", redis_url)
    for var in ("TINYTOWN_AGENT_ID", "TINYTOWN_AGENT_NAME", "TINYTOWN_TOWN"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "town"
    git_repo(root)
    (root / ".tt" / "logs").mkdir(parents=True)
    save_town_config(root, new_town_config(town_name))
    monkeypatch.chdir(root)
    fake_gh.issue(1, "Design the API", "server side")
    fake_gh.issue(2, "Implement it", "depends on #1")

    def run(*args: str) -> Run:
        from tinytown.cli import main

        context.OPTIONS.town = "."
        context.OPTIONS.verbose = False
        out, err = io.StringIO(), io.StringIO()
        code = 0
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main([str(a) for a in args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return Run(code, out.getvalue(), err.getvalue())

    return run


def _start(tt: TT, *args: str) -> tuple[str, Run]:
    done = tt("mission", "start", *args)
    assert done.code == 0, done.err
    match = UUID.search(done.out)
    assert match is not None
    return match.group(0), done


def test_start_prints_the_banner(tt: TT) -> None:
    mid, done = _start(tt, "-i", "1", "--issue", "acme/widgets#2", "-i", "junk", "-d", "plan.md")
    assert done.out.splitlines() == [
        "🚀 Mission started!",
        f"   ID: {mid}",
        "   Objectives: 3",
        "   Work items: 3",
        "      - acme/widgets#1",
        "      - acme/widgets#2",
        "      - plan.md",
        "   Max parallel: 2",
        "   Reviewer required: true",
        "   Scheduler bootstrap: 2 promoted, 0 assigned",
        "",
        f"   Check status with: tt mission status --run {mid}",
    ]
    assert done.err == "⚠️  Could not parse issue: junk\n"


def test_start_errors_are_one_line_and_nonzero(tt: TT) -> None:
    nothing = tt("mission", "start")
    assert nothing.code != 0
    assert nothing.err == "Error: At least one --issue or --doc is required\n"
    bad = tt("mission", "start", "--issue", "zzz")
    assert bad.code != 0
    assert bad.err.endswith("Error: No valid objectives found\n")
    gh_down = tt("mission", "start", "--issue", "9")
    assert gh_down.code != 0
    assert gh_down.err.startswith("Error: gh command failed: unknown command: gh issue view 9")
    assert "Traceback" not in gh_down.err
    manifest = tt("mission", "start", "--doc", "a.md", "--manifest", "missing.toml")
    assert manifest.err.startswith("Error: Cannot read mission manifest missing.toml")


def test_status_list_note_stop_resume(tt: TT) -> None:
    empty = tt("mission", "status")
    assert empty.out == "📋 No active missions\n   Start one with: tt mission start --issue <N>\n"
    assert tt("mission", "list").out == "📋 No missions found\n"
    mid, _ = _start(tt, "--doc", "plan.md", "--no-reviewer", "--max-parallel", "3")
    listed = tt("mission", "list").out.splitlines()
    assert listed == ["📋 Missions: 1", f"   🚀 {mid[:4]} (Running) - plan.md - 0m ago"]
    detail = tt("mission", "status", "--run", mid, "--dispatcher").out
    for line in (f"   ID: {mid[:4]} ({mid})", "   State: 🚀 Running", "📋 Objectives: 1",
                 "   Reviewer required: false", "   Max parallel: 3", "🛰️  Dispatcher:",
                 "   Last tick: never", "📦 Work Items: 1", "   🔵 plan.md (Design) - Ready",
                 "👁️  Watch Items: 0", "📜 Recent Events:"):
        assert line in detail.splitlines(), line
    assert tt("mission", "note", mid, "pause for lunch").out == (
        f"📝 Queued dispatcher note for mission {mid}\n")
    pending = tt("mission", "status", "-r", mid, "--dispatcher").out
    assert "   Pending control messages: 1" in pending
    assert "      - conductor: pause for lunch" in pending
    assert tt("mission", "resume", mid).out == f"ℹ️  Mission {mid} is already running\n"
    assert tt("mission", "stop", mid).out == f"⏹️  Mission {mid} stopped\n"
    stopped = tt("mission", "status").out
    assert stopped.startswith("📋 No active missions")
    everything = tt("mission", "list", "--all").out
    assert f"🚧 {mid[:4]} (Blocked) - plan.md" in everything
    assert "      └─ Blocked: Stopped by user" in everything
    assert tt("mission", "resume", mid).out == f"▶️  Mission {mid} resumed\n"
    assert tt("mission", "stop", mid, "--force").out == f"⏹️  Mission {mid} stopped\n"
    assert tt("mission", "resume", mid).out == (
        f"ℹ️  Mission {mid} has failed and cannot be resumed\n")


def test_json_documents(tt: TT) -> None:
    mid, _ = _start(tt, "--doc", "plan.md")
    doc = json.loads(tt("mission", "status", "--run", mid, "--json").out)
    assert doc["mission"]["id"] == mid
    assert doc["mission"]["state"] == "running"
    assert doc["work_items"][0]["title"] == "plan.md"
    listed = json.loads(tt("mission", "list", "--json").out)
    assert [m["id"] for m in listed["missions"]] == [mid]
    tick = json.loads(tt("mission", "dispatch", "--once", "--json").out)
    assert tick["claimed"] == [mid]


def test_dispatch_once_prints_the_summary(tt: TT) -> None:
    _start(tt, "--doc", "plan.md")
    out = tt("mission", "dispatch", "--once").out
    assert out == ("🛰️  Dispatcher tick: claimed 1 mission(s), processed 0 watch(es), "
                   "promoted 0, assigned 0\n")


def test_bad_and_unknown_ids(tt: TT) -> None:
    bad = tt("mission", "status", "--run", "xyz")
    assert (bad.code, bad.err) == (6, "Error: Invalid mission ID: xyz\n")
    unknown = tt("mission", "stop", "7d0c2f3e-0000-4000-8000-000000000000")
    assert unknown.code == 3
    assert unknown.err == "Error: Mission 7d0c2f3e-0000-4000-8000-000000000000 not found\n"


def test_task_complete_prints_the_mission_sync(tt: TT, town_name: str, redis_url: str) -> None:
    mid, _ = _start(tt, "--doc", "plan.md", "--no-reviewer")
    wid = json.loads(tt("mission", "status", "--run", mid, "--json").out)["work_items"][0]["id"]
    assign = tt("assign", "supervisor", "write the plan")
    assert assign.code == 0, assign.err
    found = UUID.search(assign.out)
    assert found is not None
    task_id = found.group(0)
    # Bind the task to the mission's work item the way the scheduler tags its tasks.
    r = redis_py.Redis.from_url(redis_url, decode_responses=True)
    try:
        r.hset(Keys(town_name).task(task_id), "tags",
               json.dumps(["mission-work-item", f"mission:{mid}", f"work-item:{wid}"]))
    finally:
        r.close()
    done = tt("task", "complete", task_id, "--result", "all done")
    assert done.code == 0, done.err
    assert ("   Mission sync: work item completed; scheduler promoted 0 and assigned 0"
            in done.out.splitlines())
    assert json.loads(tt("mission", "status", "--run", mid, "--json").out)["mission"][
        "state"] == "completed"
