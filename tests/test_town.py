"""The core Town: init / connect with the town's own managed Redis, agent references.

The public API on top of it (``tinytown.Town``) is tested in tests/runtime/test_python_api.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from tinytown.errors import (
    AgentExistsError,
    AgentNotFoundError,
    AmbiguousAgentError,
    ConfigError,
    InvalidInputError,
    NotInitializedError,
    TownExistsError,
)
from tinytown.models import SUPERVISOR, AgentState
from tinytown.redis import server
from tinytown.services.registration import register_agent
from tinytown.town import Town


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
        handle = await register_agent(town, "worker-1", "claude")
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


async def test_agent_reference_resolution(town: Town) -> None:
    a = await register_agent(town, "backend", "claude")
    for ref in ("backend", "BACKEND", str(a.id), a.id.short, a.display_name, a.label):
        assert (await town.resolve(ref))[0] == a.id
    assert await town.resolve("conductor") == (SUPERVISOR, None)
    with pytest.raises(AgentNotFoundError):
        await town.resolve("nobody")
    with pytest.raises(AgentNotFoundError):
        await town.resolve("550e8400-e29b-41d4-a716-446655440000")
    with pytest.raises(AgentExistsError):  # one live agent per name
        await register_agent(town, "backend", "claude")
    await town.channel.set_agent_state(a.id, AgentState.STOPPED)
    b = await register_agent(town, "backend", "claude")
    assert (await town.resolve("backend"))[0] == b.id  # the live one wins an exact-name tie
    await town.channel.set_agent_state(b.id, AgentState.STOPPED)
    with pytest.raises(AmbiguousAgentError, match="ambiguous"):
        await town.resolve("backend")


@pytest.mark.parametrize(
    ("name", "error"),
    [("", InvalidInputError), ("conductor", ConfigError), (" Supervisor ", ConfigError),
     ("bad name!", InvalidInputError), ("x" * 65, InvalidInputError)],
)
async def test_bad_agent_names(town: Town, name: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        await register_agent(town, name, "claude")
    assert await town.list_agents() == []
