"""``tt init``, ``tt stop``, ``tt reset`` through the real entry point.

``tt init`` tests start a real per-town redis-server and stop it at teardown.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis as redis_py
import trio

from tinytown.config import list_towns, load_town_config
from tinytown.keys import Keys
from tinytown.models import AgentState, Task
from tinytown.procwait import pid_alive
from tinytown.redis import server
from tinytown.runtime.procfiles import read_pid
from tinytown.services.registration import register_agent
from tinytown.town import Town

TT = Callable[..., Any]
NOW = datetime(2026, 4, 20, 18, 22, 15, tzinfo=UTC)
BOOK_INIT = [
    "✨ Initialized town 'my-project' at .",
    "📡 Redis running with Unix socket for fast message passing",
    "🚀 Run 'tt spawn <name>' to create agents",
]


@pytest.fixture
def managed(tmp_path: Path, tt_nowhere: TT, monkeypatch: pytest.MonkeyPatch) -> Iterator[TT]:
    """``tt`` in an empty directory, without REDIS_URL: init starts a real town Redis.

    Every town directory under ``tmp_path`` gets its server stopped at teardown.
    """
    monkeypatch.delenv("REDIS_URL", raising=False)
    yield tt_nowhere
    for pidfile in tmp_path.rglob(".tt/redis.pid"):
        trio.run(server.stop_town_server, pidfile.parent.parent)


def town_state(redis_url: str, town: str) -> dict[Any, Any]:
    """Every key of a town with its DUMP, read with redis-py (an independent client)."""
    client = redis_py.Redis.from_url(redis_url)
    try:
        keys = client.keys(f"tt:{town}:*")
        # The town's epoch (tinytown.epoch) outlives a reset: the town goes on, emptied.
        return {k: client.dump(k) for k in keys if k != f"tt:{town}:epoch".encode()}
    finally:
        client.close()


# --- tt init ------------------------------------------------------------------------


def test_init_prints_the_book_lines_and_sets_everything_up(
    managed: TT, tmp_path: Path, tt_home: Path
) -> None:
    result = managed("init", "--name", "my-project")
    assert result.code == 0, result.err
    assert result.err == ""
    assert result.lines == [BOOK_INIT[0], "📝 Added .tt to .gitignore", *BOOK_INIT[1:]]
    root = tmp_path / "empty"
    assert load_town_config(root).name == "my-project"
    # Idle agents keep waiting for work: no 0.10-style 300 s idle timeout is written.
    assert "idle_timeout_secs" not in (root / "tinytown.toml").read_text()
    for sub in ("agents", "logs", "tasks"):
        assert (root / ".tt" / sub).is_dir()
    assert ".tt/" in (root / ".gitignore").read_text().splitlines()
    assert server.server_running(root)
    assert [(t.name, t.path) for t in list_towns(tt_home)] == [("my-project", str(root.resolve()))]


def test_init_keeps_an_existing_gitignore_entry(managed: TT, tmp_path: Path) -> None:
    (tmp_path / "empty" / ".gitignore").write_text("node_modules\n.tt\n")
    result = managed("init", "-n", "my-project")
    assert result.code == 0, result.err
    assert result.lines == BOOK_INIT
    assert (tmp_path / "empty" / ".gitignore").read_text() == "node_modules\n.tt\n"


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd, check=True, capture_output=True,
    )  # fmt: skip


def test_init_names_the_town_after_repo_and_branch(
    managed: TT, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "redisearch"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "first")
    _git(repo, "checkout", "-q", "-b", "feature/auth")
    monkeypatch.chdir(repo)
    result = managed("init")
    assert result.code == 0, result.err
    assert result.lines[0] == "✨ Initialized town 'redisearch-feature-auth' at ."


def test_init_with_town_flag_in_a_new_directory(managed: TT, tmp_path: Path) -> None:
    result = managed("init", "--town", "./projects/new-project", "--name", "new-project")
    assert result.code == 0, result.err
    assert result.lines[0] == "✨ Initialized town 'new-project' at ./projects/new-project"
    assert (tmp_path / "empty" / "projects" / "new-project" / "tinytown.toml").exists()


def test_init_refuses_an_existing_town(managed: TT, tmp_path: Path, tt_home: Path) -> None:
    assert managed("init", "-n", "first").code == 0
    config = (tmp_path / "empty" / "tinytown.toml").read_bytes()
    registry = (tt_home / ".tt" / "towns.toml").read_bytes()
    result = managed("init", "-n", "second")
    assert result.code == 4
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert result.err.startswith("Error: A town already exists at .")
    assert "tt start" in result.err
    assert (tmp_path / "empty" / "tinytown.toml").read_bytes() == config
    assert (tt_home / ".tt" / "towns.toml").read_bytes() == registry


def test_failed_init_leaves_no_town_behind(
    managed: TT, tmp_path: Path, tt_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINYTOWN_REDIS_SERVER", str(tmp_path / "no-such-redis-server"))
    result = managed("init", "-n", "broken")
    assert result.code == 5
    assert result.err.startswith("Error: Redis not found")
    assert result.err.count("\n") == 1
    assert not (tmp_path / "empty" / "tinytown.toml").exists()
    assert not (tt_home / ".tt" / "towns.toml").exists()
    monkeypatch.delenv("TINYTOWN_REDIS_SERVER")
    assert managed("init", "-n", "fixed").code == 0  # a retry starts afresh


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["init", "--name", ""], 6, "Error: Town name must not be empty"),
        (["init", "--name", "   "], 6, "Error: Town name must not be empty"),
        (["init", "--name"], 2, "Error:"),
        (["init", "--bogus"], 2, "Error: Unknown option"),
        (["init", "extra-positional"], 2, "Error:"),
    ],
)
def test_init_bad_input(
    managed: TT, tmp_path: Path, tt_home: Path, args: list[str], code: int, message: str
) -> None:
    result = managed(*args)
    assert result.code == code, result
    assert result.err.startswith(message)
    assert result.err.count("\n") == 1
    assert sorted(p.name for p in (tmp_path / "empty").iterdir()) == []
    assert not (tt_home / ".tt").exists()


# --- tt stop ------------------------------------------------------------------------


async def _spawn(root: Path, names: list[str], states: dict[str, AgentState]) -> None:
    async with Town.connect(root) as town:
        for name in names:
            handle = await register_agent(town, name, "claude")
            if name in states:
                await town.channel.set_agent_state(handle.id, states[name])


async def _states(root: Path) -> dict[str, tuple[AgentState, bool]]:
    async with Town.connect(root) as town:
        return {
            a.name: (a.state, await town.channel.should_stop(a.id))
            for a in await town.list_agents()
        }


def test_stop_requests_every_live_agent(tt: TT, town_dir: Path, town_name: str) -> None:
    trio.run(
        _spawn,
        town_dir,
        ["a", "b", "c", "gone"],
        {"b": AgentState.WORKING, "gone": AgentState.STOPPED},
    )
    result = tt("stop")
    assert result.code == 0, result.err
    assert result.lines == [
        f"🛑 Requested graceful stop for 3 agent(s) in town '{town_name}'",
        "   Agents will stop at the start of their next round.",
        "   Central Redis remains available to other towns.",
    ]
    states = trio.run(_states, town_dir)
    assert states == {
        "a": (AgentState.STOPPED, True),
        "b": (AgentState.STOPPED, True),
        "c": (AgentState.STOPPED, True),
        "gone": (AgentState.STOPPED, False),
    }
    again = tt("stop")
    assert again.lines[0] == f"👋 No active agents to stop in town '{town_name}'"


def test_stop_redis_shuts_down_the_towns_own_server(managed: TT, tmp_path: Path) -> None:
    assert managed("init", "-n", "my-project").code == 0
    result = managed("stop", "--redis")
    assert result.code == 0, result.err
    assert result.lines == [
        "👋 No active agents to stop in town 'my-project'",
        "   The town's Redis has been shut down (state saved in .tt/redis.rdb).",
    ]
    assert not server.server_running(tmp_path / "empty")
    assert (tmp_path / "empty" / ".tt" / "redis.rdb").exists()


# --- tt reset -----------------------------------------------------------------------


async def _book_town(root: Path) -> None:
    """The book's example: 3 agents, 12 tasks, 2 backlog items."""
    async with Town.connect(root) as town:
        for name in ("frontend", "backend", "reviewer"):
            await register_agent(town, name, "claude")
        tasks = [Task.new(f"task {i}", NOW) for i in range(12)]
        await town.channel.set_tasks(tasks)
        for task in tasks[:2]:
            await town.channel.backlog_push(task.id)


def test_reset_preview_matches_the_book_and_changes_nothing(
    tt: TT, town_dir: Path, town_name: str, redis_url: str
) -> None:
    trio.run(_book_town, town_dir)
    before = town_state(redis_url, town_name)
    result = tt("reset")
    assert result.code == 0, result.err
    assert result.lines == [
        f"🗑️  Resetting town '{town_name}'",
        "   This will delete:",
        "   - 3 agent(s)",
        "   - 12 task(s)",
        "   - 2 backlog item(s)",
        "",
        "⚠️  This action cannot be undone!",
        "   Run with --force to confirm: tt reset --force",
    ]
    assert town_state(redis_url, town_name) == before


def test_reset_force_matches_the_book(
    tt: TT, town_dir: Path, town_name: str, redis_url: str
) -> None:
    trio.run(_book_town, town_dir)
    n_keys = len(town_state(redis_url, town_name))
    result = tt("reset", "--force")
    assert result.code == 0, result.err
    assert result.lines == [
        f"🗑️  Resetting town '{town_name}'",
        "   This will delete:",
        "   - 3 agent(s)",
        "   - 12 task(s)",
        "   - 2 backlog item(s)",
        "",
        f"✅ Reset complete: deleted {n_keys} Redis keys",
        "   Run 'tt spawn <name>' to create new agents",
    ]
    assert town_state(redis_url, town_name) == {}


def test_reset_agents_only_matches_the_book(
    tt: TT, town_dir: Path, town_name: str, redis_url: str
) -> None:
    trio.run(_book_town, town_dir)
    preview = tt("reset", "--agents-only")
    assert preview.lines == [
        f"🗑️  Resetting agents in town '{town_name}'",
        "   This will delete:",
        "   - 3 agent(s) and their inboxes",
        "   Tasks and backlog will be preserved.",
        "",
        "⚠️  This action cannot be undone!",
        "   Run with --force to confirm: tt reset --agents-only --force",
    ]
    keys = Keys(town_name)
    before = town_state(redis_url, town_name)
    agent_keys = [
        k
        for k in before
        if k.decode().startswith((keys.prefix + "agent:", keys.prefix + "events:agent:"))
    ]
    result = tt("reset", "--agents-only", "--force")
    assert result.code == 0, result.err
    assert result.lines[-2:] == [
        f"✅ Reset complete: deleted {len(agent_keys)} Redis keys (agents only)",
        "   Run 'tt spawn <name>' to create new agents",
    ]
    after = town_state(redis_url, town_name)
    assert set(after) == set(before) - set(agent_keys)
    assert keys.backlog.encode() in after


# --- bad input: stop and reset ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["stop", "now"], 2, "Error:"),
        (["stop", "--force"], 2, "Error: Unknown option"),
        (["reset", "--forse"], 2, "Error: Unknown option"),
        (["reset", "everything"], 2, "Error:"),
    ],
)
def test_stop_reset_usage_errors_change_nothing(
    tt: TT, town_dir: Path, town_name: str, redis_url: str, args: list[str], code: int, message: str
) -> None:
    trio.run(_book_town, town_dir)
    before = town_state(redis_url, town_name)
    result = tt(*args)
    assert (result.code, result.out) == (code, "")
    assert result.err.startswith(message)
    assert result.err.count("\n") == 1
    assert town_state(redis_url, town_name) == before


@pytest.mark.parametrize("command", [["stop"], ["reset"], ["reset", "--force"]])
def test_stop_reset_without_a_town(tt_nowhere: TT, command: list[str]) -> None:
    result = tt_nowhere(*command)
    assert result.code == 4
    assert result.err == "Error: Town not initialized at . Run 'tt init' first.\n"


@pytest.mark.parametrize("command", [["stop"], ["reset", "--force"]])
def test_stop_reset_with_redis_down(
    tt: TT, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", f"unix://{tmp_path}/nothing-here.sock")
    result = tt(*command)
    assert result.code == 5
    assert result.out == ""
    assert result.err.startswith("Error: ")
    assert result.err.count("\n") == 1


def test_stop_redis_first_stops_the_towns_runtime(managed: TT, tmp_path: Path) -> None:
    root = tmp_path / "empty"
    assert managed("init", "-n", "my-project").code == 0
    runtime_pid: int | None = None
    model_pids: list[int] = []
    try:
        assert managed("spawn", "w", "--model", "sleep 1000").code == 0
        # The runtime claims its liveness key (what spawn waits for), then writes its pidfile.
        deadline = time.monotonic() + 30
        while (runtime_pid := read_pid(root / ".tt" / "runtime.pid")) is None:
            assert time.monotonic() < deadline, "the runtime never wrote its pidfile"
            time.sleep(0.05)
        assert managed("assign", "w", "Take your time").code == 0
        deadline = time.monotonic() + 30
        while not list((root / ".tt" / "agents").glob("*.model.pid")):
            assert time.monotonic() < deadline, "the model never started"
            time.sleep(0.05)
        model_pids = [
            pid for f in (root / ".tt" / "agents").glob("*.model.pid") if (pid := read_pid(f))
        ]
        result = managed("stop", "--redis")
        assert result.code == 0, result.err
        assert result.lines == [
            "🛑 Requested graceful stop for 1 agent(s) in town 'my-project'",
            "   Agents will stop at the start of their next round.",
            f"   Stopped the town's runtime (pid {runtime_pid}).",
            "   The town's Redis has been shut down (state saved in .tt/redis.rdb).",
        ]
        assert not pid_alive(runtime_pid)
        assert not any(pid_alive(pid) for pid in model_pids)
        assert not server.server_running(root)
        listing = json.loads(managed("list", "--json").out)  # restarts the town's Redis
        assert [a["state"] for a in listing["agents"]] == ["stopped"]
    finally:
        runtime_pid = runtime_pid or read_pid(root / ".tt" / "runtime.pid")
        for pid in [p for p in (runtime_pid, *model_pids) if p is not None]:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
