"""The public Python API (``from tinytown import Town``): the README example, run as printed,
book parity, and the same atomic services as the CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import trio
from _rt_support import FAKE, RtTown, rt_town_fixture, wait_until  # noqa: F401

from tinytown import AgentHandle, Message, MessageType, Task, Town
from tinytown.codec import message_from_json
from tinytown.errors import AgentNotFoundError
from tinytown.models import SUPERVISOR, AgentState, TaskState
from tinytown.redis import server
from tinytown.services import agents as agent_service
from tinytown.services.registration import register_agent

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    text = README.read_text()
    found = re.search(r"From Python:\s*```python\n(.*?)```", text, re.S)
    assert found, "the README has no Python example after 'From Python:'"
    return found.group(1)


def fake_claude(bin_dir: Path) -> Path:
    """A ``claude`` on PATH that is the fake model in ``ok`` mode (it completes its tasks)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "claude"
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" ok\n')
    path.chmod(0o755)
    return path


def test_the_readme_example_runs_its_agent(rt_town: RtTown, tmp_path: Path) -> None:
    """The README's Python example, executed as printed: the agent runs and does the work."""
    script = rt_town.root / "example.py"
    script.write_text(readme_example())
    bin_dir = tmp_path / "bin"
    fake_claude(bin_dir)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([sys.executable, str(script)], cwd=rt_town.root, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    task_id = re.search(r"assigned ([0-9a-f-]{36});", done.stdout)
    assert task_id, done.stdout
    assert rt_town.runtime_pids(), "no runtime hosts the agent"
    wait_until(lambda: rt_town.task(task_id.group(1)).get("state") == "completed",
               "the README's task completed by its agent")
    assert rt_town.task(task_id.group(1))["result"] == "done by worker-1"
    assert rt_town.agent("worker-1")["host"]


# --- a town on the session Redis, no runtime ----------------------------------------------


@pytest.fixture
async def town(tmp_path: Path, town_name: str, redis_url: str,
               monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Town]:
    from tinytown.config import new_town_config, save_town_config

    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    save_town_config(tmp_path, new_town_config(town_name))
    async with Town.connect(tmp_path) as connected:
        yield connected


async def handle(town: Town, name: str) -> AgentHandle:
    agent = await register_agent(town, name, "claude")
    return AgentHandle(town, agent.id, agent.name)


class _CancelAfter(trio.abc.Instrument):
    """Cancel ``scope`` just before ``task`` runs its ``steps``-th step."""

    def __init__(self, task: trio.lowlevel.Task, steps: int, scope: trio.CancelScope) -> None:
        self.task, self.steps, self.scope = task, steps, scope

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task is self.task:
            self.steps -= 1
            if self.steps == 0:
                self.scope.cancel()


async def test_assign_leaves_no_half_assigned_task_at_any_step(town: Town) -> None:
    """Cut Town.assign off before each of its steps in turn: a task exists iff its message does."""
    worker = await handle(town, "worker")
    finished = False
    cuts = 0
    while not finished:
        cuts += 1
        description = f"cut at step {cuts}"
        with trio.CancelScope() as scope:
            cutter = _CancelAfter(trio.lowlevel.current_task(), cuts, scope)
            trio.lowlevel.add_instrument(cutter)
            try:
                await town.assign(worker, description)
                finished = True
            finally:
                trio.lowlevel.remove_instrument(cutter)
        tasks = {t.id for t in await town.channel.list_tasks() if t.description == description}
        raw = await town.redis.execute("LRANGE", town.channel.keys.inbox(worker.id), 0, -1)
        queued = {m.kind.task_id for m in map(message_from_json, raw)
                  if isinstance(m.kind, MessageType.TaskAssign)}
        assert {str(t) for t in tasks} <= queued, f"task without its message (cut {cuts})"
        stored = {str(t.id) for t in await town.channel.list_tasks()}
        assert queued <= stored, f"message without its task (cut {cuts})"
        assert len(tasks) == 1 if finished else len(tasks) <= 1
    assert cuts > 2  # the operation really was cut at several points before it finished


async def test_handle_assign_takes_a_task_and_keeps_it(town: Town) -> None:
    worker = await handle(town, "worker")
    task = Task.new("Implement the login API", tags=["api"])
    assert task.state is TaskState.PENDING
    assert await worker.assign(task) == task.id
    stored = await town.channel.require_task(task.id)
    assert (stored.state, stored.assigned_to, stored.tags) == (
        TaskState.ASSIGNED, worker.id, ["api"])
    message = await town.channel.receive(worker.id, timeout=1)
    assert message is not None
    assert message.kind == MessageType.TaskAssign(task_id=str(task.id))
    events = [e.event_type.value for _, e in await town.channel.recent_events(10)]
    assert events == ["agent_spawned", "task_assigned"]


async def test_unit_messages_need_no_call_and_bad_arguments_say_why(town: Town) -> None:
    worker = await handle(town, "worker")
    sent = await worker.send(MessageType.StatusRequest, urgent=True)
    assert sent.kind == MessageType.StatusRequest()
    assert await town.channel.urgent_len(worker.id) == 1
    built = Message.new(SUPERVISOR, worker.id, MessageType.Ping)
    assert built.kind == MessageType.Ping()
    assert built.to == worker.id
    with pytest.raises(TypeError, match=r"MessageType\.Query needs its fields"):
        await worker.send(MessageType.Query)
    with pytest.raises(TypeError, match="must be a MessageType variant"):
        await worker.send("hello")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="AgentIds for 'to'"):
        Message.new(SUPERVISOR, "worker", MessageType.Ping)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="description as a str"):
        Task.new(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"a description \(str\) or a Task"):
        await worker.assign(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name must be a str"):
        await town.spawn_agent(None)  # type: ignore[arg-type]
    assert await town.channel.inbox_len(worker.id) == 0


async def test_agent_references_and_wait(
    town: Town, blocked_in: Callable[..., Awaitable[None]]
) -> None:
    a = await handle(town, "backend")
    record = await a.record()
    for ref in ("backend", "BACKEND", str(a.id), a.id.short, record.label, a.id):
        assert (await town.agent(ref)).id == a.id
    assert (await town.agent("conductor")).id == SUPERVISOR
    with pytest.raises(AgentNotFoundError):
        await town.agent("nobody")
    assert await a.wait(timeout=0.1) is AgentState.STARTING  # times out: the state as it is

    async def stop_soon() -> None:
        await blocked_in(town.redis, "xread")  # the wait is waiting for the agent's events
        await agent_service.kill(town, "backend")  # writes Stopped and the agent_stopped event

    async with trio.open_nursery() as nursery:
        nursery.start_soon(stop_soon)
        assert await a.wait(timeout=10) is AgentState.STOPPED


# --- managed Redis: what leaving init and connect stops --------------------------------------


@pytest.fixture
def managed_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    return tmp_path / "proj"


def _redis_pid(root: Path) -> int:
    return int((root / ".tt" / "redis.pid").read_text())


async def test_leaving_init_stops_its_runtime_and_redis(managed_root: Path) -> None:
    from tinytown.procwait import pid_alive
    from tinytown.runtime.launch import runtime_pid
    from tinytown.runtime.settings import host_id
    try:
        async with Town.init(managed_root, "dropped") as town:
            worker = await town.spawn_agent("w", f"{sys.executable} {FAKE} ok")
            runtime = await runtime_pid(town, host_id())  # the pidfile may come a bit later
            redis_pid = _redis_pid(managed_root)
            assert runtime is not None
            assert pid_alive(runtime)
            assert pid_alive(redis_pid)
            assert await worker.state() is not AgentState.STOPPED
        assert not pid_alive(runtime), "leaving Town.init left its runtime running"
        assert not pid_alive(redis_pid), "leaving Town.init left its Redis running"
    finally:
        with trio.CancelScope(shield=True):
            await server.stop_town_server(managed_root)


async def test_connect_leaves_a_running_town_alone_and_is_awaitable(managed_root: Path) -> None:
    from tinytown.procwait import pid_alive

    try:
        town = await Town.init(managed_root, "kept", keep_redis=True)
        await town.aclose()
        pid = _redis_pid(managed_root)
        assert pid_alive(pid)
        async with Town.connect(managed_root) as again:
            assert await again.redis.execute("PING") == "PONG"
        assert pid_alive(pid)
        town = await Town.connect(managed_root)
        async with town:
            assert await town.redis.execute("PING") == "PONG"
        assert pid_alive(pid)
        assert _redis_pid(managed_root) == pid
        await town.aclose()  # closing twice is harmless
    finally:
        with trio.CancelScope(shield=True):
            await server.stop_town_server(managed_root)


def test_the_python_api_names_are_exported() -> None:
    import tinytown
    from tinytown.town import Town as Core

    assert tinytown.Town is Town
    assert issubclass(Town, Core)
    assert tinytown.AgentHandle is AgentHandle
