"""Snapshots: ``save_snapshot`` writes an RDB, ``restore_snapshot`` brings it back for real."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from tinytown.config import load_town_config, new_town_config, save_town_config
from tinytown.errors import InvalidInputError, InvalidStateError, NotFoundError
from tinytown.keys import Keys
from tinytown.models import AgentState
from tinytown.redis import server
from tinytown.services import tasks
from tinytown.services.persistence import (
    check_output_path,
    check_snapshot,
    human_size,
    restore_snapshot,
    save_snapshot,
)
from tinytown.services.registration import register_agent
from tinytown.town import Town


@pytest.fixture
async def managed_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Path]:
    """A directory (absolute) for a town with its own redis-server, stopped afterwards."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    root = tmp_path / "proj"
    yield root
    with trio.CancelScope(shield=True):
        await server.stop_town_server(root)


@pytest.fixture
async def shared_town(
    tmp_path: Path, town_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Town]:
    """A town on the session Redis (not managed by tt)."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    save_town_config(tmp_path, new_town_config(town_name))
    async with Town.connect(tmp_path) as town:
        yield town


# --- pure / files -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (1536, "1.5 KB"), (5 * 1024**2, "5.0 MB"),
     (3 * 1024**4, "3072.0 GB")],
)  # fmt: skip
def test_human_size(n: int, text: str) -> None:
    assert human_size(n) == text


def test_check_snapshot(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="Run 'tt save' first"):
        check_snapshot(tmp_path / "missing.rdb")
    with pytest.raises(InvalidInputError, match="directory"):
        check_snapshot(tmp_path)
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    with pytest.raises(InvalidInputError, match="not a Redis RDB snapshot"):
        check_snapshot(bogus)
    good = tmp_path / "ok.rdb"
    good.write_bytes(b"REDIS0012rest")
    assert check_snapshot(good) == 13


def test_check_output_path(tmp_path: Path) -> None:
    check_output_path(tmp_path / "state.rdb")
    with pytest.raises(InvalidInputError, match="does not exist"):
        check_output_path(tmp_path / "nope" / "state.rdb")
    with pytest.raises(InvalidInputError, match="is a directory"):
        check_output_path(tmp_path)


# --- a server tt does not manage ------------------------------------------------------


async def test_save_on_a_shared_local_server_reports_and_copies(
    shared_town: Town, tmp_path: Path
) -> None:
    await shared_town.redis.execute("SET", Keys(shared_town.name).backlog, "x")
    out = tmp_path / "copy.rdb"
    result = await save_snapshot(shared_town, out)
    assert result.local
    assert result.server_file is not None
    assert result.server_file.read_bytes()[:5] == b"REDIS"
    assert result.size == result.server_file.stat().st_size
    assert result.copied_to == out
    assert out.read_bytes() == result.server_file.read_bytes()


async def test_save_refuses_a_bad_output_before_saving(shared_town: Town, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError):
        await save_snapshot(shared_town, tmp_path / "missing-dir" / "x.rdb")
    assert not (tmp_path / "missing-dir").exists()


async def test_restore_refuses_a_server_tt_does_not_manage(
    shared_town: Town, tmp_path: Path
) -> None:
    key = Keys(shared_town.name).backlog
    await shared_town.redis.execute("SET", key, "before")
    snapshot = tmp_path / "s.rdb"
    await save_snapshot(shared_town, snapshot)
    await shared_town.redis.execute("SET", key, "after")
    with pytest.raises(InvalidStateError, match="not managed by tt"):
        await restore_snapshot(shared_town.root, shared_town.config, snapshot)
    assert await shared_town.redis.execute("GET", key) == "after"


# --- the town's own server: the real round trip ---------------------------------------


async def test_save_change_restore_brings_the_state_back(managed_root: Path) -> None:
    async with Town.init(managed_root, "roundtrip") as town:
        worker = await register_agent(town, "worker", "claude")
        task_id = (await tasks.assign(town, str(worker.id), "Build the API")).task.id
        result = await save_snapshot(town)
        assert result.server_file == managed_root / ".tt" / "redis.rdb"
        assert result.copied_to is None
        # Change and delete after the save.
        await town.channel.set_agent_state(worker.id, AgentState.ERROR)
        await town.channel.delete_task(task_id)
        await register_agent(town, "intruder", "claude")

    restored = await restore_snapshot(
        managed_root, load_town_config(managed_root), result.server_file
    )
    assert restored.was_running
    assert (restored.agents, restored.tasks) == (1, 1)
    assert restored.backup == managed_root / ".tt" / "redis.rdb.bak"
    async with Town.connect(managed_root) as town:
        agents = await town.list_agents()
        assert [(a.name, a.state) for a in agents] == [("worker", AgentState.STARTING)]
        task = await town.channel.require_task(task_id)
        assert task.description == "Build the API"
        assert await town.channel.inbox_len(worker.id) == 1
    # The replaced state was kept: restoring the backup gives the changed state again.
    again = await restore_snapshot(managed_root, load_town_config(managed_root), restored.backup)
    assert (again.agents, again.tasks) == (2, 0)


async def test_restore_from_an_outside_file_with_the_server_stopped(
    managed_root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "town-state.rdb"
    async with Town.init(managed_root, "carried") as town:
        await town.redis.execute("RPUSH", Keys("carried").backlog, "t1", "t2")
        await save_snapshot(town, outside)
        await town.redis.execute("DEL", Keys("carried").backlog)
        assert await town.stop_redis()
    assert not server.server_running(managed_root)
    restored = await restore_snapshot(managed_root, load_town_config(managed_root), outside)
    assert not restored.was_running
    async with Town.connect(managed_root) as town:
        assert await town.redis.execute("LRANGE", Keys("carried").backlog, 0, -1) == ["t1", "t2"]


async def test_a_checkout_with_the_snapshot_starts_with_its_state(
    managed_root: Path, tmp_path: Path
) -> None:
    """The git round trip: copy tinytown.toml and .tt/redis.rdb elsewhere, start there."""
    async with Town.init(managed_root, "gitted") as town:
        await town.redis.execute("SET", Keys("gitted").backlog, "carried")
        await save_snapshot(town)
    clone = tmp_path / "clone"
    (clone / ".tt").mkdir(parents=True)
    (clone / "tinytown.toml").write_bytes((managed_root / "tinytown.toml").read_bytes())
    (clone / ".tt" / "redis.rdb").write_bytes((managed_root / ".tt" / "redis.rdb").read_bytes())
    try:
        async with Town.connect(clone) as town:
            assert await town.redis.execute("GET", Keys("gitted").backlog) == "carried"
    finally:
        with trio.CancelScope(shield=True):
            await server.stop_town_server(clone)


async def test_restore_with_append_only_persistence(managed_root: Path) -> None:
    """With [redis].persist the AOF would win over the RDB: restore seeds a fresh AOF from it."""
    config = new_town_config("aof-town")
    config.redis.persist = True
    save_town_config(managed_root, config)
    key = Keys("aof-town").backlog
    async with Town.connect(managed_root) as town:
        await town.redis.execute("SET", key, "saved")
        result = await save_snapshot(town)
        await town.redis.execute("SET", key, "changed")
    assert result.server_file is not None
    await restore_snapshot(managed_root, config, result.server_file)
    assert (managed_root / ".tt" / "redis-aof.bak").is_dir()
    async with Town.connect(managed_root) as town:
        assert await town.redis.execute("GET", key) == "saved"
        await town.redis.execute("SET", key, "written after restore")
        assert await town.stop_redis()
    async with Town.connect(managed_root) as town:  # replays the seeded AOF + new writes
        assert await town.redis.execute("GET", key) == "written after restore"


async def test_restore_of_a_bad_file_changes_nothing(managed_root: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.rdb"
    bogus.write_text("not redis")
    async with Town.init(managed_root, "untouched") as town:
        await town.redis.execute("SET", Keys("untouched").backlog, "live")
        pid = (managed_root / ".tt" / "redis.pid").read_text()
    config = load_town_config(managed_root)
    with pytest.raises(InvalidInputError):
        await restore_snapshot(managed_root, config, bogus)
    with pytest.raises(NotFoundError):
        await restore_snapshot(managed_root, config, tmp_path / "missing.rdb")
    assert (managed_root / ".tt" / "redis.pid").read_text() == pid
    async with Town.connect(managed_root) as town:
        assert await town.redis.execute("GET", Keys("untouched").backlog) == "live"


async def test_a_checkout_of_a_persist_town_starts_with_the_snapshot(
    managed_root: Path, tmp_path: Path
) -> None:
    config = new_town_config("aof-gitted")
    config.redis.persist = True
    save_town_config(managed_root, config)
    async with Town.connect(managed_root) as town:
        await town.redis.execute("SET", Keys("aof-gitted").backlog, "carried")
        await save_snapshot(town)
    clone = tmp_path / "clone"
    (clone / ".tt").mkdir(parents=True)
    (clone / "tinytown.toml").write_bytes((managed_root / "tinytown.toml").read_bytes())
    (clone / ".tt" / "redis.rdb").write_bytes((managed_root / ".tt" / "redis.rdb").read_bytes())
    try:
        async with Town.connect(clone) as town:
            assert await town.redis.execute("GET", Keys("aof-gitted").backlog) == "carried"
    finally:
        with trio.CancelScope(shield=True):
            await server.stop_town_server(clone)
