"""End to end: the installed ``tt``, the town's runtime with demo agents, a fake ``gh``.

Three issues with dependencies; two demo workers and a demo reviewer; the
implementation's PR fails CI once, then passes. The runtime's dispatcher
(every 0.3 s here) drives the mission to completion on its own.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_py
import trio

from tests.runtime._rt_support import wait_until
from tinytown.config import new_town_config, save_town_config
from tinytown.keys import Keys
from tinytown.procwait import pid_alive, wait_pid_gone
from tinytown.runtime.procfiles import read_pid, runtime_pidfile

from .conftest import FakeGh, git_repo

TT = shutil.which("tt") or str(Path(sys.executable).with_name("tt"))
FAST_ENV = {
    "TINYTOWN_HEARTBEAT_S": "0.2",
    "TINYTOWN_RUNTIME_GRACE_S": "0.5",
    "TINYTOWN_KILL_GRACE_S": "0.5",
    "TINYTOWN_RUNTIME_REFRESH_S": "1",
    "TINYTOWN_RUNTIME_TTL_S": "5",
    "TINYTOWN_MISSION_DISPATCH_S": "0.3",
    "TINYTOWN_DEMO_DELAY_S": "0",
    "TINYTOWN_DEMO_OPEN_PRS": "1",
}
WAIT_S = 120.0


@pytest.fixture
def e2e_town(tmp_path: Path, town_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch,
             fake_gh: FakeGh) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("REDIS_URL", redis_url)
    for var in ("TINYTOWN_AGENT_ID", "TINYTOWN_AGENT_NAME", "TINYTOWN_TOWN"):
        monkeypatch.delenv(var, raising=False)
    for var, value in FAST_ENV.items():
        monkeypatch.setenv(var, value)
    root = tmp_path / "town"
    git_repo(root)
    (root / ".tt" / "logs").mkdir(parents=True)
    save_town_config(root, new_town_config(town_name))
    monkeypatch.chdir(root)
    try:
        yield root
    finally:
        pid = read_pid(runtime_pidfile(root))
        if pid and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            trio.run(wait_pid_gone, pid, 10)


def tt(*args: str) -> str:
    done = subprocess.run([TT, *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"tt {' '.join(args)} failed: {done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_three_issue_mission_completes_with_exactly_one_fix_task(
    e2e_town: Path, fake_gh: FakeGh, town_name: str, redis_url: str
) -> None:
    fake_gh.issue(1, "Design the widget API", "Server side design.")
    fake_gh.issue(2, "Implement widget storage", "Depends on #1.")
    fake_gh.issue(3, "Test widget storage", "Blocked by #2.")
    fake_gh.pr(101, "SUCCESS")
    # The first tick over PR 102 asks its status four times (one per watch): CI fails there.
    fake_gh.pr(102, "FAILURE", "FAILURE", "FAILURE", "FAILURE", "SUCCESS")
    fake_gh.pr(103, "SUCCESS")
    tt("spawn", "backend-1", "--model", "demo", "--max-rounds", "50")
    tt("spawn", "worker-2", "--model", "demo", "--max-rounds", "50")
    tt("spawn", "reviewer", "--model", "demo", "--role", "reviewer", "--max-rounds", "50")

    out = tt("mission", "start", "--issue", "1", "--issue", "2", "--issue", "acme/widgets#3")
    assert "🚀 Mission started!" in out
    assert "   Objectives: 3" in out
    assert "      - acme/widgets#2" in out
    mid = next(line.split()[-1] for line in out.splitlines() if line.startswith("   ID: "))
    first = tt("mission", "status")
    assert "📋 Active Missions: 1" in first
    assert f"🚀 {mid[:4]} (Running) - acme/widgets#1, acme/widgets#2 +1 more" in first

    r = redis_py.Redis.from_url(redis_url, decode_responses=True)
    keys = Keys(town_name)

    def state() -> str:
        return str(json.loads(r.get(keys.mission(mid)) or "{}").get("state"))

    try:
        wait_until(lambda: state() == "completed", "the mission to complete", WAIT_S)
        items = [json.loads(v) for v in r.hvals(keys.mission_work(mid))]
        watches = [json.loads(v) for v in r.hvals(keys.mission_watch(mid))]
        tasks = [r.hgetall(k) for k in r.keys(f"tt:{town_name}:task:*")]
        log = r.lrange(keys.mission_log(mid), 0, -1)
    finally:
        r.close()
    assert {i["status"] for i in items} == {"done"}
    assert len(watches) == 12
    assert {w["status"] for w in watches} == {"done"}
    fixes = [t for t in tasks if "mission-fix-task" in t.get("tags", "")]
    assert len(fixes) == 1
    assert "/pull/102" in fixes[0]["description"]
    assert fixes[0]["state"] == "completed"
    reviews = [t for t in tasks if "mission-review-task" in t.get("tags", "")]
    assert len(reviews) == 3  # implement twice (before and after the fix), test once
    text = "\n".join(reversed(log))
    steps = [
        "Mission started via CLI",
        "Work item 'Design the widget API' promoted to ready",
        "Assigned 'Design the widget API' to agent 'backend-1'",
        "Work item 'Design the widget API' is waiting on PR watches",
        "Work item 'Implement widget storage' promoted to ready",
        "Created fix task",
        "Reviewer approved 'Implement widget storage'",
        "Work item 'Test widget storage' promoted to ready",
        "Mission completed - all work items and watches done",
    ]
    # The first review may approve before or after CI fails; the last one follows the fix.
    positions = [text.rfind(step) if step.startswith("Reviewer") else text.find(step)
                 for step in steps]
    assert -1 not in positions, [s for s, p in zip(steps, positions, strict=True) if p < 0]
    assert positions == sorted(positions)

    final = tt("mission", "status", "--run", mid, "--work", "--watch", "--dispatcher")
    assert "   State: ✅ Completed" in final
    assert "   ✅ Implement widget storage (Implement) - Done" in final
    assert "      └─ Reviewer approved" in final
    assert "   ✅ PrChecks - https://github.com/acme/widgets/pull/102 (Done)" in final
    assert "Mission completed - all work items and watches done" in final
    assert "📋 No active missions" in tt("mission", "status")
    listed = tt("mission", "list", "--all")
    assert f"✅ {mid[:4]} (Completed)" in listed
