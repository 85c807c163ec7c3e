"""The town's own Redis SIGKILLed under a running town (issue 10 items 1 and 6).

With the default config (persistence on) nothing acknowledged a second
earlier is lost, the runtime restarts Redis from ``.tt/`` by itself and its
agents carry on; a Redis whose town directory was removed still exits on
SIGTERM.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from functools import partial
from pathlib import Path

import pytest
import redis as redis_py
import trio
from _rt_support import RtTown, managed_town_fixture, wait_gone, wait_until  # noqa: F401

from tinytown.redis import server
from tinytown.runtime.procfiles import pid_alive
from tinytown.services import tasks
from tinytown.town import Town

BATCH = 100


def _kill_redis(root: Path) -> int:
    pid = int((root / ".tt" / "redis.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid), "Redis gone")
    return pid


def _runtime_log(root: Path) -> str:
    path = root / ".tt" / "logs" / "runtime.log"
    return path.read_text() if path.exists() else ""


def test_the_runtime_restarts_its_redis_by_itself_and_says_so_once(
    managed_town: RtTown,
) -> None:
    town = managed_town
    town.ok("spawn", "idle", "-m", "ok")
    wait_until(lambda: town.state("idle") == "idle", "agent idle")
    (runtime_pid,) = town.runtime_pids()
    old = _kill_redis(town.root)
    # No tt command runs from here on: only the runtime can bring Redis back.
    pidfile = town.root / ".tt" / "redis.pid"
    wait_until(lambda: server.server_running(town.root) and pidfile.exists()
               and int(pidfile.read_text() or old) != old, "Redis restarted", timeout=30)
    wait_until(lambda: "the town's Redis is back" in _runtime_log(town.root), "back logged")
    time.sleep(1.5)  # would the agent's actor have given up meanwhile?
    log = _runtime_log(town.root)
    assert log.count("the town's Redis is not answering") == 1, log
    assert "restarted from .tt/ by this runtime" in log
    assert "giving up" not in log
    assert pid_alive(runtime_pid)
    task_id = next(w for w in town.ok("assign", "idle", "after").split() if w.count("-") == 4)
    wait_until(lambda: town.task(task_id).get("state") == "completed", "task completed")


def test_the_runtime_reports_a_redis_that_came_back_empty_and_exits(
    managed_town: RtTown,
) -> None:
    town = managed_town
    town.ok("spawn", "idle", "-m", "ok")
    wait_until(lambda: town.state("idle") == "idle", "agent idle")
    (runtime_pid,) = town.runtime_pids()
    # The persistence files are lost with it: whoever restarts Redis gets an empty one.
    shutil.rmtree(town.root / ".tt" / "redis-aof", ignore_errors=True)
    (town.root / ".tt" / "redis.rdb").unlink(missing_ok=True)
    _kill_redis(town.root)
    wait_until(lambda: not pid_alive(runtime_pid), "runtime exits", timeout=30)
    log = _runtime_log(town.root)
    assert "Town data lost: its Redis came back empty" in log, log
    status = town.tt("status")
    assert status.code != 0
    assert status.err.startswith("Error: Town data lost"), status.err


async def _assign_batch(root: Path, agent: str) -> list[str]:
    async with Town.connect(root) as town:
        return [str((await tasks.assign(town, agent, f"task {i}")).task.id)
                for i in range(BATCH)]


@pytest.mark.slow
def test_redis_sigkilled_mid_work_loses_no_acknowledged_assignment(
    managed_town: RtTown,
) -> None:
    town = managed_town
    town.ok("spawn", "w", "-m", "ok", "--max-rounds", "1000")
    wait_until(lambda: town.state("w") == "idle", "agent idle")
    ids = trio.run(_assign_batch, town.root, "w")
    # On disk before the crash: everysec may lose the last second, a write fsynced after
    # the batch (AOF is one sequential file) means the whole batch is on disk.
    town.r.set("tt-test:aof-probe", "1")
    assert town.r.execute_command("WAITAOF", 1, 0, 10_000)[0] == 1
    _kill_redis(town.root)

    def completed() -> int:
        try:
            return sum(town.task(t).get("state") == "completed" for t in ids)
        except redis_py.ConnectionError:
            return -1

    wait_until(lambda: completed() == BATCH, f"{BATCH}/{BATCH} tasks completed", timeout=240)
    assert town.state("w") in ("idle", "working")


def test_a_redis_whose_town_directory_was_removed_exits_on_sigterm(tmp_path: Path) -> None:
    root = tmp_path / "town"
    root.mkdir()
    sock = root / ".tt" / "redis.sock"
    pid = trio.run(partial(server.start_town_server, root, socket_path=sock,
                           binary=server.bundled_redis_server()))
    try:
        client = redis_py.Redis(unix_socket_path=str(sock))
        client.set("tt:x", "unsaved")  # a change a clean shutdown would want to save
        client.close()
        shutil.rmtree(root)
        os.kill(pid, signal.SIGTERM)
        assert wait_gone([pid], timeout=2)
    finally:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
