"""Chaos: the runtime SIGKILLed 22 times while 3 agents work through 120 tasks.

Each kill lands at a random moment; the runtime is restarted with ``tt start
--detach``, as a user would. The fake model works on each task of its round for
a short random time, records that it did the work, then runs ``tt task
complete``. Every task must end completed, none lost, and no task's work may be
done (and handed in) more than twice. (Before effectively-once delivery, fencing and orphan
clean-up: 2.3–2.5 completions per task on average, up to 23 for one task.)
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
import trio
from _rt_support import RtTown, rt_town_fixture, wait_until  # noqa: F401

from tinytown.services import tasks
from tinytown.town import Town

AGENTS = ("alpha", "beta", "gamma")
TASKS = 120
KILLS = 22


async def _assign_all(root: Path) -> list[str]:
    async with Town.connect(root) as town:
        ids = []
        for n in range(TASKS):
            done = await tasks.assign(town, AGENTS[n % len(AGENTS)], f"chaos task {n}")
            ids.append(str(done.task.id))
        return ids


@pytest.mark.slow
def test_sigkilled_runtime_completes_every_task_at_most_twice(
    rt_town: RtTown, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    record_property: object,
) -> None:
    rng = random.Random(20261129)
    done_file = tmp_path / "done.txt"
    monkeypatch.setenv("FAKE_DONE", str(done_file))
    monkeypatch.setenv("FAKE_SLEEP_S", "0.15")
    for name in AGENTS:
        rt_town.ok("spawn", name, "--model", "work", "--max-rounds", "100000")
    ids = trio.run(_assign_all, rt_town.root)
    kills = 0
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.2, 1.2))
        pids = rt_town.runtime_pids()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        kills += bool(pids)
        wait_until(lambda: not rt_town.runtime_pids(), "runtime gone")
        rt_town.ok("start", "--detach")

    def all_completed() -> bool:
        return all(rt_town.task(t).get("state") == "completed" for t in ids)

    wait_until(all_completed, "every task completed", timeout=90)
    lines = done_file.read_text().splitlines() if done_file.exists() else []
    completions = Counter(line.split("\t")[0] for line in lines)
    seen = Counter(text for *_, text in rt_town.seen_lines() if text in set(ids))
    total = sum(completions[t] for t in ids)
    print(f"\nchaos: {kills} SIGKILLs, {TASKS} tasks, {total} completions "
          f"({total / TASKS:.2f} per task, max {max(completions.values())}); "
          f"shown to a model {sum(seen.values())} times (max {max(seen.values())})")
    record_property("completions", total)  # type: ignore[operator]
    record_property("max_completions", max(completions.values()))  # type: ignore[operator]
    record_property("max_shown", max(seen.values()))  # type: ignore[operator]
    assert kills >= 20
    assert set(completions) >= set(ids)  # every task was done by a model
    assert max(completions[t] for t in ids) <= 2
    for name in AGENTS:
        aid = rt_town.agent(name)["id"]
        wait_until(lambda: rt_town.queued(aid) == (0, 0, 0), f"{name}'s queues drained")  # noqa: B023
