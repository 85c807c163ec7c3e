"""Mission records shared with tinytown 0.10 itself (the Rust ``tt`` peer), both ways.

Runs only where the peer binary is installed (``shared/tools/tinytown-0.10-rust/tt``
beside the checkout, or ``TINYTOWN_RUST_TT``); the golden fixtures in
``test_mission_codec.py`` pin the same bytes everywhere else.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import attrs
import pytest
import trio

from tinytown.mission.binding import FIX_TAG
from tinytown.mission.store import MissionStore
from tinytown.mission.submission import Gates
from tinytown.models import AgentState
from tinytown.models.mission import WatchKind, WatchStatus, WorkKind, WorkStatus
from tinytown.services import missions
from tinytown.town import Town

from .conftest import T0, AddAgent, FakeGh
from .helpers import make_mission, tasks_tagged

REPO_ROOT = Path(__file__).resolve().parents[2]
PEER = Path("shared") / "tools" / "tinytown-0.10-rust" / "tt"
CANDIDATES = [Path(p) for p in [os.environ.get("TINYTOWN_RUST_TT", "")] if p]
CANDIDATES += [REPO_ROOT.parent / PEER, REPO_ROOT.parent.parent / PEER]  # checkout, worktree
RUST_TT = next((p for p in CANDIDATES if p.exists()), CANDIDATES[-1])
pytestmark = pytest.mark.skipif(not RUST_TT.exists(), reason="tinytown 0.10 peer not installed")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
PR = "https://github.com/acme/widgets/pull/42"


async def rust(town: Town, *args: str) -> str:
    done = await trio.run_process([str(RUST_TT), *args], cwd=town.root, capture_stdout=True,
                                  capture_stderr=True, check=False)
    out = ANSI.sub("", done.stdout.decode(errors="replace"))
    assert done.returncode == 0, out + done.stderr.decode(errors="replace")
    return out


async def test_0_10_reads_and_ticks_our_mission_and_we_read_its_writes(
    town: Town, add_agent: AddAgent, fake_gh: FakeGh
) -> None:
    worker = await add_agent("backend-worker", state=AgentState.WORKING)
    mission, (item,) = await make_mission(town, T0, ("Ship it", WorkKind.DESIGN, None),
                                          status=WorkStatus.ASSIGNED)
    store = MissionStore(town.channel)
    await store.save_work_items([attrs.evolve(item, assigned_to=worker.id)])
    await Gates(town, T0).record_submission(mission.id, item.id, [f"opened {PR}"])
    await missions.note(town, str(mission.id), "hello from python", now=T0)

    shown = await rust(town, "mission", "status", "--run", str(mission.id), "--work", "--watch",
                       "--dispatcher")
    assert "Ship it (Design) - Blocked" in shown
    assert f"PrChecks - {PR} (Active)" in shown
    assert "conductor: hello from python" in shown

    fake_gh.pr(42, "FAILURE")
    ticked = await rust(town, "mission", "dispatch", "--once")
    assert "claimed 1 mission(s), processed 4 watch(es)" in ticked
    watches = {w.kind: w for w in await store.list_watches(mission.id)}
    assert watches[WatchKind.PR_CHECKS].status is WatchStatus.SNOOZED
    (fix,) = await tasks_tagged(town, FIX_TAG)
    assert fix.assigned_to == worker.id
    (note,) = await store.list_controls(mission.id)
    assert note.processed_at is not None
    log = await store.recent_log(mission.id, 10)
    assert any("Dispatcher received operator note from conductor: hello from python" in x
               for x in log)
