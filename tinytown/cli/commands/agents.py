"""``tt list``, ``kill``, ``interrupt``, ``resume``, ``close``, ``wait`` and ``prune``.

Thin adapters over :mod:`tinytown.services.agents`; outputs as the book shows
them (cli.md §3.3, §4). Agent arguments accept a name, nickname, label, short
id or full id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from cyclopts import Parameter

from tinytown.cli.output import emit_json, say

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tinytown.services.agents import AgentRow
    from tinytown.town import Town

JsonFlag = Annotated[bool, Parameter(name="--json", negative=())]
Flag = Annotated[bool, Parameter(negative=())]
LongFlag = Annotated[bool, Parameter(name=["--long", "-l"], negative=())]


def _row_doc(row: AgentRow) -> dict[str, Any]:
    from tinytown.cli.display import agent_doc

    doc = agent_doc(row.agent)
    doc.update(inbox=row.inbox, urgent=row.urgent, processing=row.processing)
    return doc


def list_agents(*, long: LongFlag = False, json: JsonFlag = False) -> None:
    """List the town's agents with their state.

    Each line shows the agent's name, full id and state; terminal agents are
    counted in a closing note, followed by warnings when work will not run (the
    town's runtime is down, or an agent with queued messages is Stopped, Error
    or Paused). The queue sizes are read in a constant number
    of Redis round trips whatever the number of agents.

    Parameters
    ----------
    long : bool
        Also show each agent's model CLI and queue sizes (inbox, urgent, in progress).
    json : bool
        Print one JSON document (agents with queue sizes) instead of text.
    """
    from tinytown.cli.notices import strand_doc, strand_lines
    from tinytown.cli.runner import run_town
    from tinytown.runtime.strands import runtime_health
    from tinytown.services.agents import list_agents as list_rows
    from tinytown.services.agents import prunable_count

    async def body(town: Town) -> None:
        rows = await list_rows(town)
        health = await runtime_health(town, [r.agent for r in rows])
        pending = [(r.agent, r.queued) for r in rows]
        if json:
            doc = {"agents": [_row_doc(r) for r in rows], "count": len(rows)}
            emit_json({**doc, **strand_doc(pending, health)})
            return
        if not rows:
            say("No agents. Run 'tt spawn <name>' to create one.")
            return
        say("Agents:")
        for row in rows:
            a = row.agent
            line = f"  {a.name} ({a.id}) - {a.state.label}"
            if long:
                line += (
                    f"  [{a.cli}] inbox {row.inbox}, urgent {row.urgent}, "
                    f"in progress {row.processing}"
                )
            say(line)
        terminal = prunable_count([r.agent for r in rows])
        if terminal:
            say(
                f"  Note: {terminal} terminal agent(s) are still listed. "
                "Run 'tt prune' to remove them from Redis."
            )
        for line in strand_lines(pending, health):
            say(line)

    run_town(body)


def _verb(service: Callable[[Town, str], Awaitable[object]], agent: str, *lines: str) -> None:
    """Apply one control verb of :mod:`tinytown.services.agents`, then print ``lines``."""
    from tinytown.cli.runner import run_town

    async def body(town: Town) -> None:
        await service(town, agent)
        for line in lines:
            say(line)

    run_town(body)


def kill(agent: str, /) -> None:
    """Stop an agent gracefully after its current round.

    Sets the agent's stop flag (1 h TTL) and marks it Stopped; a running
    model round finishes first, then the agent exits.

    Parameters
    ----------
    agent : str
        The agent: name, nickname, short id or full id.
    """
    from tinytown.services.agents import kill as kill_agent

    _verb(kill_agent, agent, f"🛑 Requested stop for agent '{agent}'",
          "   Agent will stop at the start of its next round.")


def interrupt(agent: str, /) -> None:
    """Pause an agent: it finishes its current round, then waits for 'tt resume'.

    Parameters
    ----------
    agent : str
        The agent: name, nickname, short id or full id.
    """
    from tinytown.services.agents import interrupt as interrupt_agent

    _verb(interrupt_agent, agent, f"⏸️  Interrupted agent '{agent}'",
          f"   Agent is now paused. Use 'tt resume {agent}' to continue.")


def resume(agent: str, /) -> None:
    """Resume a paused agent (state Idle; its stop flag is cleared).

    Parameters
    ----------
    agent : str
        The agent: name, nickname, short id or full id.
    """
    from tinytown.services.agents import resume as resume_agent

    _verb(resume_agent, agent, f"▶️  Resumed agent '{agent}'")


def close(agent: str, /) -> None:
    """Drain an agent: it finishes its current work, then stops.

    Parameters
    ----------
    agent : str
        The agent: name, nickname, short id or full id.
    """
    from tinytown.services.agents import close as close_agent

    _verb(close_agent, agent, f"🔻 Closing agent '{agent}' (draining current work, then stopping)")


def wait(agent: str, /, *, timeout: float | None = None, json: JsonFlag = False) -> None:
    """Wait until an agent is Stopped, Error or Cold, then print the state it reached.

    After --timeout the current state is printed instead (exit status 0 either way;
    the JSON document says whether time ran out).

    Parameters
    ----------
    agent : str
        The agent: name, nickname, short id or full id.
    timeout : float, optional
        Give up waiting after this many seconds (default: wait forever).
    json : bool
        Print one JSON document with the state reached instead of text.
    """
    from tinytown.cli.icons import AGENT_STATES
    from tinytown.cli.runner import run_town
    from tinytown.services.agents import check_wait_timeout
    from tinytown.services.agents import wait as wait_agent

    async def body(town: Town) -> None:
        check_wait_timeout(timeout)
        aid, _ = await town.resolve(agent)
        if not json:
            say(f"⏳ Waiting for agent '{agent}' to finish...")
        result = await wait_agent(town, str(aid), timeout)
        if json:
            emit_json(
                {
                    "agent": result.name,
                    "id": str(result.agent_id),
                    "state": result.state.value,
                    "terminal": result.state.is_terminal,
                    "timed_out": result.timed_out,
                }
            )
            return
        say(f"   Agent '{agent}' reached state: {AGENT_STATES[result.state]} {result.state.label}")

    run_town(body)


def prune(*, all: Flag = False, json: JsonFlag = False) -> None:
    """Remove stopped agents (Stopped or Error) and their queues from Redis.

    Their pending tasks are moved to the backlog first (the output lists them);
    other queued messages are dropped with the agent. Cold agents are kept.
    With --all every agent is removed, including live ones.

    Parameters
    ----------
    all : bool
        Remove ALL agents, not just stopped ones.
    json : bool
        Print one JSON document listing the removed agents instead of text.
    """
    from tinytown.cli.display import agent_doc
    from tinytown.cli.runner import run_town
    from tinytown.services.prune import prune_agents

    async def body(town: Town) -> None:
        from tinytown.runtime.launch_env import remove_launch_env

        removed = await prune_agents(town, everything=all)
        for p in removed:  # the spawning shell's PATH and provider keys go with the agent
            remove_launch_env(town.root, p.agent.id)
        if json:
            docs = [
                {**agent_doc(p.agent), "to_backlog": [str(t) for t in p.to_backlog],
                 "dropped_messages": p.dropped}
                for p in removed
            ]
            emit_json({"removed": docs, "count": len(removed)})
            return
        for p in removed:
            a = p.agent
            say(f"🗑️  Removed {a.name} ({a.id}) - {a.state.label}")
            if p.to_backlog:
                ids = ", ".join(str(t)[:8] for t in p.to_backlog)
                say(f"   📥 Moved {len(p.to_backlog)} pending task(s) to the backlog: {ids}")
            if p.dropped:
                say(f"   🗑️  Dropped {p.dropped} other message(s) (queries, updates)")
        if removed:
            say(f"✨ Pruned {len(removed)} agent(s)")
        else:
            say("No agents to prune.")

    run_town(body)
