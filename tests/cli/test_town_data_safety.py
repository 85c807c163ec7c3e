"""A crash of the town's Redis loses nothing; an emptied town is flagged (issue 10 item 1)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from tinytown.keys import Keys
from tinytown.procwait import wait_pid_gone
from tinytown.redis import server
from tinytown.town import Town

TT = Callable[..., Any]
TOWN = "safe-town"


@pytest.fixture
def managed(tmp_path: Path, tt_nowhere: TT, monkeypatch: pytest.MonkeyPatch) -> Iterator[TT]:
    """``tt`` in an empty directory without REDIS_URL; the town's Redis is stopped afterwards."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    yield tt_nowhere
    trio.run(server.stop_town_server, tmp_path / "empty")


async def _redis(root: Path, *command: str | int) -> Any:
    async with Town.connect(root, check_epoch=False) as town:
        return await town.redis.execute(*command)


async def _fsynced(root: Path) -> int:
    """Write a probe and wait until the AOF holds it on disk (WAITAOF counts the writes of
    its own connection: one pipeline); the AOF is sequential, so every earlier write is too."""
    async with Town.connect(root, check_epoch=False) as town:
        _, (local, _) = await town.redis.pipeline().cmd("SET", "tt-test:aof-probe", 1).cmd(
            "WAITAOF", 1, 0, 10_000).execute()
        return int(local)


def _kill_redis(root: Path) -> None:
    pid = int((root / ".tt" / "redis.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    trio.run(wait_pid_gone, pid, 10)
    assert not server.server_running(root)


def test_redis_sigkilled_with_the_default_config_loses_nothing(
    managed: TT, tmp_path: Path
) -> None:
    root = tmp_path / "empty"
    assert managed("init", "-n", TOWN).code == 0
    for i in range(30):
        assert managed("backlog", "add", f"task {i}").code == 0
    assert trio.run(_fsynced, root) == 1  # on disk: appendfsync everysec may lose 1 s
    _kill_redis(root)
    listed = managed("backlog", "list")  # restarts the town's Redis from its files
    assert listed.code == 0, listed.err
    assert trio.run(_redis, root, "LLEN", Keys(TOWN).backlog) == 30
    assert (root / ".tt" / "redis-aof").is_dir()


def test_a_town_whose_redis_comes_back_empty_is_flagged_until_reset(
    managed: TT, tmp_path: Path
) -> None:
    root = tmp_path / "empty"
    assert managed("init", "-n", TOWN).code == 0
    assert managed("backlog", "add", "precious work").code == 0
    assert managed("status").code == 0
    trio.run(server.stop_town_server, root)
    # The persistence files are gone (a fresh checkout, a wiped disk): Redis starts empty.
    (root / ".tt" / "redis.rdb").unlink()
    for path in (root / ".tt" / "redis-aof").iterdir():
        path.unlink()
    for command in (["status"], ["backlog", "list"], ["list"]):
        res = managed(*command)
        assert res.code != 0, (command, res)
        assert res.err.startswith("Error: Town data lost: its Redis came back empty "
                                  "(last known: 0 agent(s), 1 task(s)"), res.err
        assert res.err.count("\n") == 1
    # Nothing "repaired" the town into a new one meanwhile.
    assert trio.run(_redis, root, "EXISTS", Keys(TOWN).epoch) == 0
    assert managed("reset", "--force").code == 0
    assert managed("status").code == 0
    assert trio.run(_redis, root, "EXISTS", Keys(TOWN).epoch) == 1
