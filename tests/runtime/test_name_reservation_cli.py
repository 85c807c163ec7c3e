"""Name reservation through the CLI: concurrent ``tt spawn`` of one name (issue 10 item 3)."""

from __future__ import annotations

import os
import subprocess

import pytest
from _rt_support import TT, RtTown, rt_town_fixture  # noqa: F401

SPAWNERS = 50


@pytest.mark.slow
def test_fifty_concurrent_cli_spawns_of_one_name_give_one_live_agent(rt_town: RtTown) -> None:
    procs = [
        subprocess.Popen([TT, "spawn", "twin", "-m", "ok"], cwd=rt_town.root,
                         env=os.environ.copy(), text=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(SPAWNERS)
    ]
    results = [(p.wait(timeout=240), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0] + [7] * (SPAWNERS - 1), [r for r in results if r[0] not in (0, 7)]
    refusals = {err.split("(")[0] for code, _, err in results if code == 7}
    assert refusals == {"Error: Agent 'twin' already exists "}
    named = [rt_town.hash(str(k)) for k in rt_town.r.keys(rt_town.keys.pattern("agent"))]
    named = [h for h in named if h.get("name") == "twin"]
    assert len(named) == 1
    assert rt_town.r.hgetall(rt_town.keys.names) == {"twin": named[0]["id"]}
