"""The built-in ``demo`` model, run as a real subprocess against a real town."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
import trio

from tinytown.api import Town
from tinytown.config import new_town_config, save_town_config
from tinytown.models import SUPERVISOR, AgentId, Message, MessageType, TaskState
from tinytown.runtime.prompt import PromptContext, PromptItem, batch_messages, build_prompt
from tinytown.services.backlog import snapshot_for_agent
from tinytown.services.registration import register_agent
from tinytown.town import create_layout

DEMO = [sys.executable, "-m", "tinytown.runtime.demo_model"]


@pytest.fixture
def town_root(
    tmp_path: Path, town_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A town on the session Redis, with a private HOME."""
    root = tmp_path / "town"
    create_layout(root)
    save_town_config(root, new_town_config(town_name))
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("REDIS_URL", redis_url)
    return root


async def round_prompt(town: Town, agent_id: AgentId, name: str) -> str:
    """Pop the agent's queues and build its prompt, as the runtime's actor does."""
    urgent = await _drain(town, agent_id, urgent=True)
    normal = await _drain(town, agent_id, urgent=False)
    batch = batch_messages(urgent, normal)
    items = []
    for item in batch.items:
        if item.task_id is not None:
            item = attrs.evolve(item, task=await town.channel.get_task(item.task_id))
        items.append(item)
    snapshot = await snapshot_for_agent(town, name)
    if not items and snapshot.matching:
        from tinytown.runtime.prompt import synthetic_backlog_query

        items.append(PromptItem(synthetic_backlog_query(agent_id, name, snapshot.matching)))
    return build_prompt(
        PromptContext(
            town_name=town.name,
            agent_name=name,
            round_no=1,
            max_rounds=10,
            items=items,
            info_summaries=batch.info_summaries,
            confirmation_counts=batch.confirmation_counts,
            backlog=snapshot,
        )
    )


async def _drain(town: Town, agent_id: AgentId, *, urgent: bool) -> list[Message]:
    messages = await town.channel.peek(agent_id, urgent=urgent)
    key = town.channel.keys.urgent(agent_id) if urgent else town.channel.keys.inbox(agent_id)
    await town.redis.execute("DEL", key)
    return messages


def demo_env(root: Path, agent_id: AgentId, name: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        TINYTOWN_TOWN=str(root),
        TINYTOWN_AGENT_ID=str(agent_id),
        TINYTOWN_AGENT_NAME=name,
        TINYTOWN_DEMO_DELAY_S="0",
    )
    env.update(extra)
    return env


async def run_demo(
    prompt: str, env: dict[str, str], args: list[str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return await trio.run_process(
        [*DEMO, *(args or [])],
        stdin=prompt.encode(),
        capture_stdout=True,
        capture_stderr=True,
        check=False,
        env=env,
    )


async def test_completes_a_task_and_answers_a_query(town_root: Path) -> None:
    async with Town.connect(town_root) as town:
        worker = await register_agent(town, "worker", "demo")
        peer = await register_agent(town, "asker", "demo")
        task = await town.assign(worker.id, "Write the greeting module")
        await town.channel.send(Message(peer.id, worker.id, MessageType.Query("Is it ready?")))
        prompt = await round_prompt(town, worker.id, "worker")

        done = await run_demo(prompt, demo_env(town_root, worker.id, "worker"))
        assert done.returncode == 0, done.stderr.decode()

        record = await town.channel.require_task(task.id)
        assert record.state is TaskState.COMPLETED
        assert record.result is not None
        assert record.result.startswith("worker finished: Write the greeting module")
        notes = town_root / ".tt" / "demo" / f"{task.id}.md"
        assert "Write the greeting module" in notes.read_text()

        answers = await town.channel.peek(peer.id)
        assert len(answers) == 1
        assert answers[0].from_ == worker.id
        assert isinstance(answers[0].kind, MessageType.Informational)
        assert "Is it ready?" in answers[0].kind.summary


async def test_reads_the_prompt_from_a_file_and_answers_the_supervisor(
    town_root: Path, tmp_path: Path
) -> None:
    async with Town.connect(town_root) as town:
        worker = await register_agent(town, "worker", "demo")
        await town.channel.send(Message(SUPERVISOR, worker.id, MessageType.Query("Status?")))
        prompt_file = tmp_path / "prompt.md"
        prompt_file.write_text(await round_prompt(town, worker.id, "worker"))

        done = await run_demo("", demo_env(town_root, worker.id, "worker"), [str(prompt_file)])
        assert done.returncode == 0, done.stderr.decode()
        answers = await town.channel.peek(SUPERVISOR)
        assert [m.from_ for m in answers] == [worker.id]


async def test_review_task_is_approved(town_root: Path) -> None:
    async with Town.connect(town_root) as town:
        reviewer = await register_agent(town, "reviewer", "demo")
        task = await town.assign(reviewer.id, "Review the greeting module")
        prompt = await round_prompt(town, reviewer.id, "reviewer")
        done = await run_demo(prompt, demo_env(town_root, reviewer.id, "reviewer"))
        assert done.returncode == 0, done.stderr.decode()
        record = await town.channel.require_task(task.id)
        assert record.state is TaskState.COMPLETED
        assert "approved" in (record.result or "")


async def test_backlog_nudge_claims_the_first_matching_task(town_root: Path) -> None:
    from tinytown.services import backlog

    async with Town.connect(town_root) as town:
        worker = await register_agent(town, "worker", "demo")
        parked = await backlog.add(town, "Parked work")
        prompt = await round_prompt(town, worker.id, "worker")
        assert "No direct assignments right now" in prompt

        done = await run_demo(prompt, demo_env(town_root, worker.id, "worker"))
        assert done.returncode == 0, done.stderr.decode()
        record = await town.channel.require_task(parked.id)
        assert record.state is TaskState.ASSIGNED, done.stdout.decode()
        assert record.assigned_to == worker.id
        assert await town.channel.backlog_len() == 0


async def test_nothing_actionable_exits_zero(town_root: Path) -> None:
    prompt = build_prompt(
        PromptContext(town_name="t", agent_name="worker", round_no=1, max_rounds=1, items=[])
    )
    done = await run_demo(prompt, demo_env(town_root, AgentId.new(), "worker"))
    assert done.returncode == 0, done.stderr.decode()
    assert b"nothing actionable" in done.stdout


async def test_failing_tt_command_exits_nonzero(town_root: Path, tmp_path: Path) -> None:
    async with Town.connect(town_root) as town:
        worker = await register_agent(town, "worker", "demo")
        await town.assign(worker.id, "Anything")
        prompt = await round_prompt(town, worker.id, "worker")
    nowhere = tmp_path / "not-a-town"
    nowhere.mkdir()
    done = await run_demo(prompt, demo_env(nowhere, worker.id, "worker"))
    assert done.returncode == 1
    (line,) = done.stderr.decode().strip().splitlines()
    assert line.startswith("demo model: tt task complete")


@pytest.mark.parametrize("delay", ["soon", "-1", "nan"])
async def test_bad_delay_is_rejected(town_root: Path, delay: str) -> None:
    env = demo_env(town_root, AgentId.new(), "worker", TINYTOWN_DEMO_DELAY_S=delay)
    done = await run_demo("# Agent: worker\n", env)
    assert done.returncode == 2
    assert b"TINYTOWN_DEMO_DELAY_S" in done.stderr


async def test_missing_prompt_file(town_root: Path, tmp_path: Path) -> None:
    env = demo_env(town_root, AgentId.new(), "worker")
    done = await run_demo("", env, [str(tmp_path / "missing.md")])
    assert done.returncode == 2
    assert b"cannot read prompt file" in done.stderr


async def test_the_rounds_tasks_are_completed_with_one_command(town_root: Path) -> None:
    async with Town.connect(town_root) as town:
        worker = await register_agent(town, "worker", "demo")
        first = await town.assign(worker.id, "Write the greeting module")
        second = await town.assign(worker.id, "Review the greeting module")
        prompt = await round_prompt(town, worker.id, "worker")
        done = await run_demo(prompt, demo_env(town_root, worker.id, "worker"))
        assert done.returncode == 0, done.stderr.decode()
        commands = [line for line in done.stdout.decode().splitlines()
                    if line.startswith("$ tt task complete")]
        assert len(commands) == 1
        assert str(first.id) in commands[0]
        assert str(second.id) in commands[0]
        one = await town.channel.require_task(first.id)
        two = await town.channel.require_task(second.id)
        assert one.state is two.state is TaskState.COMPLETED
        assert (one.result or "").startswith("worker finished: Write the greeting module")
        assert "approved" in (two.result or "")
