"""Town.init / Town.connect with the town's own managed Redis, and agent handles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from tinytown import Town
from tinytown.errors import (
    AgentNotFoundError,
    AmbiguousAgentError,
    ConfigError,
    InvalidInputError,
    NotInitializedError,
    TownExistsError,
)
from tinytown.models import SUPERVISOR, AgentState, MessageType, TaskState
from tinytown.redis import server


@pytest.fixture
async def town_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Path]:
    """A directory for a real managed town; its Redis is stopped afterwards."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    root = tmp_path / "proj"
    yield root
    with trio.CancelScope(shield=True):
        await server.stop_town_server(root)


async def test_init_starts_redis_and_connect_reuses_it(town_root: Path, tmp_path: Path) -> None:
    async with Town.init(town_root, "my-project") as town:
        assert town.name == "my-project"
        assert town.config.redis.use_socket
        assert (town_root / "tinytown.toml").exists()
        for sub in ("agents", "logs", "tasks"):
            assert (town_root / ".tt" / sub).is_dir()
        assert ".tt/" in (town_root / ".gitignore").read_text()
        assert await town.redis.execute("PING") == "PONG"
        pid = (town_root / ".tt" / "redis.pid").read_text().strip()
    registry = (tmp_path / "home" / ".tt" / "towns.toml").read_text()
    assert "my-project" in registry
    async with Town.connect(town_root) as again:
        assert await again.redis.execute("PING") == "PONG"
        assert (town_root / ".tt" / "redis.pid").read_text().strip() == pid
    with pytest.raises(TownExistsError):
        async with Town.init(town_root, "other"):
            pass


async def test_connect_restarts_a_stopped_town_redis_and_keeps_data(town_root: Path) -> None:
    async with Town.init(town_root, "persisted") as town:
        handle = await town.spawn_agent("worker-1", "claude")
        assert await town.stop_redis()
    async with Town.connect(town_root) as town:
        agents = await town.list_agents()
        assert [a.id for a in agents] == [handle.id]


async def test_missing_town_is_not_initialized(tmp_path: Path) -> None:
    with pytest.raises(NotInitializedError, match="tt init"):
        async with Town.connect(tmp_path / "nowhere"):
            pass


@pytest.fixture
async def town(tmp_path: Path, town_name: str, redis_url: str,
               monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Town]:
    from tinytown.config import new_town_config, save_town_config

    monkeypatch.setenv("REDIS_URL", redis_url)
    save_town_config(tmp_path, new_town_config(town_name))
    async with Town.connect(tmp_path) as connected:
        yield connected


async def test_spawn_assign_and_handles(town: Town) -> None:
    worker = await town.spawn_agent("worker-1", "claude")
    assert await worker.state() is AgentState.STARTING
    task_id = await worker.assign("Implement the login API")
    task = await town.channel.require_task(task_id)
    assert task.state is TaskState.ASSIGNED
    assert task.assigned_to == worker.id
    assert await worker.inbox_len() == 1
    message = await town.channel.receive(worker.id, timeout=1)
    assert message is not None
    assert message.kind == MessageType.TaskAssign(task_id=str(task_id))
    assert message.from_ == SUPERVISOR
    await worker.send(MessageType.Ping(), urgent=True)
    assert await town.channel.urgent_len(worker.id) == 1
    events = [e.event_type.value for _, e in await town.channel.recent_events(10)]
    assert events == ["agent_spawned", "task_assigned"]


async def test_agent_reference_resolution(town: Town) -> None:
    a = await town.spawn_agent("backend", "claude")
    record = await a.record()
    for ref in ("backend", "BACKEND", str(a.id), a.id.short, record.display_name, record.label):
        assert (await town.agent(ref)).id == a.id
    assert (await town.agent("conductor")).id == SUPERVISOR
    with pytest.raises(AgentNotFoundError):
        await town.agent("nobody")
    with pytest.raises(AgentNotFoundError):
        await town.agent("550e8400-e29b-41d4-a716-446655440000")
    b = await town.spawn_agent("backend", "claude")
    await town.channel.set_agent_state(a.id, AgentState.STOPPED)
    assert (await town.agent("backend")).id == b.id  # the live one wins an exact-name tie
    await town.channel.set_agent_state(b.id, AgentState.STOPPED)
    with pytest.raises(AmbiguousAgentError, match="ambiguous"):
        await town.agent("backend")


@pytest.mark.parametrize(
    ("name", "error"),
    [("", InvalidInputError), ("conductor", ConfigError), (" Supervisor ", ConfigError),
     ("bad name!", InvalidInputError), ("x" * 65, InvalidInputError)],
)
async def test_bad_agent_names(town: Town, name: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        await town.spawn_agent(name, "claude")
    assert await town.list_agents() == []


async def test_wait_returns_terminal_or_current_state(town: Town) -> None:
    worker = await town.spawn_agent("w", "claude")
    assert await worker.wait(timeout=0.3) is AgentState.STARTING

    async def stop_soon() -> None:
        await trio.sleep(0.2)
        await town.channel.set_agent_state(worker.id, AgentState.STOPPED)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(stop_soon)
        assert await worker.wait(timeout=10) is AgentState.STOPPED
