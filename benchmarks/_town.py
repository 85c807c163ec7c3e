"""Towns for benchmarks: a town directory on a bench server, seeded fast with pipelines.

A bench town's ``tinytown.toml`` is the one ``tt init`` writes; the benchmark
points it at its own redis-server through ``REDIS_URL`` (in-process with
``Town.connect(root, env=...)``, for ``tt`` subprocesses in their
environment) and gives subprocesses a private ``HOME``, so nothing touches
the user's ``~/.tt``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from time import perf_counter
from typing import Any

CHUNK = 5_000


def make_town_dir(base: Path, name: str) -> Path:
    """A town directory (config + ``.tt/`` layout) named ``name`` under ``base``."""
    from tinytown.config import new_town_config, save_town_config
    from tinytown.town import create_layout

    root = base / name
    root.mkdir(parents=True)
    create_layout(root)
    config = new_town_config(name)
    config.max_agents = 1_000_000  # benchmarks spawn hundreds of agents on purpose
    save_town_config(root, config)
    return root


def tt_env(home: Path, redis_url: str) -> dict[str, str]:
    """Environment for ``tt`` subprocesses: private HOME, the bench Redis."""
    env = os.environ.copy()
    env["HOME"] = str(home)
    env["REDIS_URL"] = redis_url
    for var in ("TINYTOWN_AGENT_ID", "TINYTOWN_AGENT_NAME", "TINYTOWN_REDIS_PASSWORD"):
        env.pop(var, None)
    return env


def tt_executable() -> str:
    """The ``tt`` console script of this interpreter's environment."""
    beside = Path(sys.executable).with_name("tt")
    if beside.exists():
        return str(beside)
    found = shutil.which("tt")
    if found is None:
        raise FileNotFoundError("no 'tt' executable beside the interpreter or on PATH")
    return found


def run_tt(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float = 120
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run ``tt ARGS`` and return (wall seconds, the completed process)."""
    started = perf_counter()
    done = subprocess.run(
        [tt_executable(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return perf_counter() - started, done


async def seed(town: Any, agents: int, tasks: int, messages_per_agent: int = 3) -> dict[str, Any]:
    """Write ``agents`` agents, ``tasks`` tasks and some inbox messages, in pipelines.

    Tasks are spread over the agents and over the states pending, assigned,
    running and completed; every agent gets ``messages_per_agent`` queued
    messages (a task assignment, a query, an informational note).
    """
    import attrs

    from tinytown.codec import agent_to_hash, message_to_json
    from tinytown.models import SUPERVISOR, Agent, AgentState, Message, MessageType, Task
    from tinytown.town import utcnow

    started = perf_counter()
    now = utcnow()
    channel, keys = town.channel, town.channel.keys
    records = []
    for i in range(agents):
        agent = Agent.new(f"worker-{i:04d}", "claude", now)
        records.append(attrs.evolve(agent, state=AgentState.IDLE))
    for start in range(0, agents, CHUNK):
        pipe = town.redis.pipeline()
        for agent in records[start : start + CHUNK]:
            fields, _ = agent_to_hash(agent)
            pipe.cmd("HSET", keys.agent(agent.id), *[x for kv in fields.items() for x in kv])
            pipe.cmd("HSET", keys.names, agent.name, str(agent.id))  # as tt spawn reserves it
        await pipe.execute()
    batch: list[Task] = []
    first_task: dict[int, Task] = {}
    for i in range(tasks):
        task = Task.new(f"Benchmark task {i}: implement part {i % 97} of the feature", now)
        owner = records[i % agents].id if agents else None
        kind = i % 4
        if owner is not None and kind >= 1:
            task = task.assigned(owner, now)
            first_task.setdefault(i % agents, task)
        if owner is not None and kind >= 2:
            task = task.started(now)
        if owner is not None and kind == 3:
            task = task.completed("done", now)
        batch.append(task)
        if len(batch) == CHUNK:
            await channel.set_tasks(batch)
            batch = []
    if batch:
        await channel.set_tasks(batch)
    pipe = town.redis.pipeline()
    for index, agent in enumerate(records):
        assigned = first_task.get(index)
        kinds: list[Any] = [
            MessageType.Query(question="How far along are you?"),
            MessageType.Informational(summary="Heads up: CI is green again"),
        ]
        if assigned is not None:
            kinds.insert(0, MessageType.TaskAssign(task_id=str(assigned.id)))
        for kind in (kinds * messages_per_agent)[:messages_per_agent]:
            message = Message(from_=SUPERVISOR, to=agent.id, kind=kind)
            pipe.cmd("RPUSH", keys.inbox(agent.id), message_to_json(message))
    if len(pipe):
        await pipe.execute()
    return {"agents": agents, "tasks": tasks, "seconds": perf_counter() - started}
