"""``tt list``, ``kill``, ``interrupt``, ``resume``, ``close``, ``wait``, ``prune`` via the CLI."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio

from tinytown.models import SUPERVISOR, Agent, AgentState, Message, MessageType
from tinytown.town import Town, utcnow

T = TypeVar("T")


def in_town(town_dir: Path, fn: Callable[[Town], Awaitable[T]]) -> T:
    async def main() -> T:
        async with Town.connect(town_dir) as town:
            return await fn(town)

    return trio.run(main)


def seed(town_dir: Path, *agents: tuple[str, AgentState]) -> list[Agent]:
    """Agents created one second apart (so listings are in this order), heartbeat now."""

    async def body(town: Town) -> list[Agent]:
        base = utcnow() - timedelta(hours=1)
        made = []
        for i, (name, state) in enumerate(agents):
            rec = Agent.new(name, "claude", base + timedelta(seconds=i))
            rec.state = state
            rec.last_heartbeat = utcnow()
            await town.channel.set_agent(rec)
            made.append(rec)
        return made

    return in_town(town_dir, body)


def snapshot(town_dir: Path) -> dict[str, Any]:
    async def body(town: Town) -> dict[str, Any]:
        keys = sorted(await town.redis.execute("KEYS", town.channel.keys.all_pattern))
        pipe = town.redis.pipeline()
        for key in keys:
            pipe.cmd("DUMP", key)
        return dict(zip(keys, await pipe.execute(), strict=True)) if keys else {}

    return in_town(town_dir, body)


def state_of(town_dir: Path, agent: Agent) -> AgentState | None:
    return in_town(town_dir, lambda town: town.channel.get_agent_state(agent.id))


# --- tt list -------------------------------------------------------------------------------


def test_list_without_agents(tt) -> None:  # type: ignore[no-untyped-def]
    result = tt("list")
    assert (result.code, result.out, result.err) == (
        0,
        "No agents. Run 'tt spawn <name>' to create one.\n",
        "",
    )


def test_list_matches_the_book(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    backend, frontend, reviewer = seed(
        town_dir,
        ("backend", AgentState.WORKING),
        ("frontend", AgentState.IDLE),
        ("reviewer", AgentState.IDLE),
    )
    result = tt("list")
    assert result.code == 0
    assert result.out == (
        "Agents:\n"
        f"  backend ({backend.id}) - Working\n"
        f"  frontend ({frontend.id}) - Idle\n"
        f"  reviewer ({reviewer.id}) - Idle\n"
    )


def test_list_notes_terminal_agents(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    seed(
        town_dir,
        ("a", AgentState.STOPPED),
        ("b", AgentState.ERROR),
        ("c", AgentState.COLD),
        ("d", AgentState.IDLE),
    )
    result = tt("list")
    assert result.lines[-1] == (
        "  Note: 2 terminal agent(s) are still listed. Run 'tt prune' to remove them from Redis."
    )


def test_list_long_and_json_show_queue_sizes(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (backend,) = seed(town_dir, ("backend", AgentState.WORKING))

    async def queue(town: Town) -> None:
        for _ in range(2):
            await town.channel.send(
                Message(from_=SUPERVISOR, to=backend.id, kind=MessageType.Ping())
            )
        await town.channel.send_urgent(
            Message(from_=SUPERVISOR, to=backend.id, kind=MessageType.Ping())
        )

    in_town(town_dir, queue)
    long = tt("list", "--long")
    assert long.lines[1] == (
        f"  backend ({backend.id}) - Working  [claude] inbox 2, urgent 1, in progress 0"
    )
    doc = json.loads(tt("list", "--json").out)
    assert doc["count"] == 1
    [row] = doc["agents"]
    assert (row["id"], row["name"], row["state"]) == (str(backend.id), "backend", "working")
    assert (row["inbox"], row["urgent"], row["processing"]) == (2, 1, 0)
    assert row["short_id"] == backend.short_id


# --- control commands ---------------------------------------------------------------------


def test_kill_matches_the_book(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (backend,) = seed(town_dir, ("backend", AgentState.WORKING))
    result = tt("kill", "backend")
    assert (result.code, result.err) == (0, "")
    assert result.out == (
        "🛑 Requested stop for agent 'backend'\n"
        "   Agent will stop at the start of its next round.\n"
    )
    assert state_of(town_dir, backend) is AgentState.STOPPED


def test_kill_by_short_id(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (backend,) = seed(town_dir, ("backend", AgentState.IDLE))
    assert tt("kill", backend.short_id).code == 0
    assert state_of(town_dir, backend) is AgentState.STOPPED


def test_interrupt_resume_close(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    (backend,) = seed(town_dir, ("backend", AgentState.WORKING))
    result = tt("interrupt", "backend")
    assert result.out == (
        "⏸️  Interrupted agent 'backend'\n"
        "   Agent is now paused. Use 'tt resume backend' to continue.\n"
    )
    assert state_of(town_dir, backend) is AgentState.PAUSED
    assert tt("resume", "backend").out == "▶️  Resumed agent 'backend'\n"
    assert state_of(town_dir, backend) is AgentState.IDLE
    assert tt("close", str(backend.id)).out == (
        f"🔻 Closing agent '{backend.id}' (draining current work, then stopping)\n"
    )
    assert state_of(town_dir, backend) is AgentState.DRAINING


def test_wait_reports_the_state_reached(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    seed(town_dir, ("done", AgentState.STOPPED), ("busy", AgentState.WORKING))
    assert tt("wait", "done").out == (
        "⏳ Waiting for agent 'done' to finish...\n   Agent 'done' reached state: ⏹️ Stopped\n"
    )
    timed_out = tt("wait", "busy", "--timeout", "0")
    assert (timed_out.code, timed_out.lines[-1]) == (0, "   Agent 'busy' reached state: ⚡ Working")
    doc = json.loads(tt("wait", "busy", "--timeout", "0", "--json").out)
    assert (doc["agent"], doc["state"], doc["terminal"], doc["timed_out"]) == (
        "busy",
        "working",
        False,
        True,
    )


def test_prune_matches_the_book(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    w1, w2, _ = seed(
        town_dir,
        ("worker-1", AgentState.STOPPED),
        ("worker-2", AgentState.ERROR),
        ("worker-3", AgentState.WORKING),
    )
    result = tt("prune")
    assert result.out == (
        f"🗑️  Removed worker-1 ({w1.id}) - Stopped\n"
        f"🗑️  Removed worker-2 ({w2.id}) - Error\n"
        "✨ Pruned 2 agent(s)\n"
    )
    assert tt("prune").out == "No agents to prune.\n"
    doc = json.loads(tt("prune", "--all", "--json").out)
    assert [a["name"] for a in doc["removed"]] == ["worker-3"]
    assert tt("list").out == "No agents. Run 'tt spawn <name>' to create one.\n"


# --- bad input: exit code, one line on stderr, nothing changed ------------------------------------

BAD_INPUT = [
    # (args, exit code, text in the error line)
    (["kill", "nobody"], 3, "Agent not found: nobody"),
    (["kill", ""], 3, "Agent not found: ''"),
    (["kill", "  "], 3, "Agent not found: '  '"),
    (["kill"], 2, "requires an argument"),
    (["kill", "twin"], 6, "ambiguous"),
    (["interrupt", "nobody"], 3, "Agent not found"),
    (["interrupt", "stopped-one"], 7, "terminal state Stopped and cannot be interrupted"),
    (["interrupt", "supervisor"], 3, "supervisor"),
    (["resume", "idle-one"], 7, "is Idle, not Paused"),
    (["resume", "nobody"], 3, "Agent not found"),
    (["close", "stopped-one"], 7, "already in terminal state Stopped"),
    (["close", "nobody"], 3, "Agent not found"),
    (["wait", "nobody"], 3, "Agent not found"),
    (["wait", "idle-one", "--timeout", "-1"], 6, "non-negative"),
    (["wait", "idle-one", "--timeout", "soon"], 2, "--timeout"),
    (["list", "--bogus"], 2, "--bogus"),
    (["prune", "--bogus"], 2, "--bogus"),
    (["prune", "extra"], 2, "extra"),
]


@pytest.mark.parametrize(
    ("args", "code", "text"), BAD_INPUT, ids=[" ".join(a) for a, _, _ in BAD_INPUT]
)
def test_bad_input(tt, town_dir: Path, args: list[str], code: int, text: str) -> None:  # type: ignore[no-untyped-def]
    seed(
        town_dir,
        ("stopped-one", AgentState.STOPPED),
        ("idle-one", AgentState.IDLE),
        ("twin", AgentState.IDLE),
        ("twin", AgentState.IDLE),
    )
    before = snapshot(town_dir)
    result = tt(*args)
    assert result.code == code
    assert result.err.count("\n") == 1, result.err
    assert result.err.startswith("Error: ")
    assert text in result.err
    assert "Traceback" not in result.err + result.out
    assert snapshot(town_dir) == before


def test_wait_rejects_a_bad_timeout_before_saying_it_waits(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    seed(town_dir, ("idle-one", AgentState.IDLE))
    result = tt("wait", "idle-one", "--timeout", "-1")
    assert result.code == 6
    assert result.out == ""
    assert result.err.startswith("Error: --timeout must be a non-negative number")


@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["kill", "x"],
        ["prune"],
        ["wait", "x"],
        ["interrupt", "x"],
        ["resume", "x"],
        ["close", "x"],
    ],
)
def test_no_town(tt_nowhere, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    result = tt_nowhere(*args)
    assert result.code == 4
    assert result.err.startswith("Error: Town not initialized")
    assert result.err.count("\n") == 1
