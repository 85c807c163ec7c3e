"""Agent listing and control: list, kill, interrupt, resume, close, wait, prune.

Behaviour follows cli.md §3.3 and §4, data-model §6 (stop flags, activity
lines) and agent-loop.md §3.5 (how the runtime reacts). Every state change is
one server-side check-and-set (:mod:`tinytown.services._agent_state`), so a
concurrent change (the runtime finishing a round) is never overwritten with a
decision taken on stale data; the runtime is woken and an event emitted after.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import trio

from tinytown.channel import reply_or
from tinytown.errors import AgentNotFoundError, InvalidInputError, ResponseError
from tinytown.keys import STOP_TTL_S
from tinytown.models import Agent, AgentId, AgentState, EventType
from tinytown.services._agent_state import StopFlag, emit_event, queue_activity, transition
from tinytown.town import Town

STOP_ACTIVITY = "🛑 Stop requested"
INTERRUPT_ACTIVITY = "⏸️ Interrupted (paused)"
RESUME_ACTIVITY = "▶️ Resumed"
CLOSE_ACTIVITY = "🔻 Closing (draining then stop)"

WAIT_RECHECK_S = 2.0
"""``wait`` re-reads the state at least this often, for changes made without an event."""


@attrs.frozen
class AgentRow:
    """One agent of ``tt list`` with the sizes of its queues."""

    agent: Agent
    inbox: int
    urgent: int
    processing: int

    @property
    def queued(self) -> int:
        """Messages not yet handled: inbox, urgent queue and in-flight."""
        return self.inbox + self.urgent + self.processing


@attrs.frozen
class ControlResult:
    """What a control command did to one agent.

    Attributes:
        agent_id: The agent's id.
        name: Its canonical name (``supervisor`` for the well-known mailbox).
        previous: Its state before the command; None when it has no record.
        state: Its state after the command; None when it has no record.
    """

    agent_id: AgentId
    name: str
    previous: AgentState | None
    state: AgentState | None


@attrs.frozen
class WaitResult:
    """Outcome of :func:`wait`: the state reached and whether time ran out first."""

    agent_id: AgentId
    name: str
    state: AgentState
    timed_out: bool


# --- reading --------------------------------------------------------------------------


async def list_agents(town: Town) -> list[AgentRow]:
    """Every agent with its queue sizes, oldest first, in 3 round trips whatever the count."""
    agents = await town.channel.list_agents()
    if not agents:
        return []
    keys = town.channel.keys
    pipe = town.redis.pipeline()
    for agent in agents:
        pipe.cmd("LLEN", keys.inbox(agent.id))
        pipe.cmd("LLEN", keys.urgent(agent.id))
        pipe.cmd("LLEN", keys.processing(agent.id))
    # A queue key of the wrong type is warned about and counted as empty, not fatal.
    sizes = await pipe.execute(raise_on_error=False)
    rows = []
    for i, agent in enumerate(agents):
        inbox, urgent, processing = sizes[3 * i : 3 * i + 3]
        rows.append(
            AgentRow(
                agent,
                int(reply_or(inbox, keys.inbox(agent.id), 0)),
                int(reply_or(urgent, keys.urgent(agent.id), 0)),
                int(reply_or(processing, keys.processing(agent.id), 0)),
            )
        )
    return rows


def prunable_count(agents: Sequence[Agent]) -> int:
    """Agents that ``tt prune`` would remove (Stopped or Error; Cold is kept)."""
    return sum(1 for a in agents if a.state.is_prunable)


# --- control -------------------------------------------------------------------------

_LIVE = frozenset(s for s in AgentState if not s.is_terminal)


async def kill(town: Town, ref: str) -> ControlResult:
    """Ask an agent to stop at its next round boundary (cli.md §4.1).

    Sets the stop flag, marks the record Stopped at once (the runtime finishes
    a running round first), logs ``🛑 Stop requested`` and emits ``agent_stopped``. The supervisor
    mailbox has no record: only the flag and the activity line are written.

    Raises:
        AgentNotFoundError: ``ref`` names no agent.
        AmbiguousAgentError: ``ref`` names several agents.
    """
    aid, agent = await town.resolve(ref)
    if agent is None:
        keys = town.channel.keys
        pipe = town.redis.pipeline(transaction=True)
        pipe.cmd("SET", keys.stop(aid), "1", "EX", STOP_TTL_S)
        queue_activity(pipe, keys, aid, STOP_ACTIVITY)
        await pipe.execute()
        return ControlResult(aid, "supervisor", None, None)
    previous = await transition(
        town, agent, AgentState.STOPPED, allowed=None, stop_flag="set", activity=STOP_ACTIVITY
    )
    # Not in 0.10, additive: a waiter blocked on the agent's event stream learns it at once.
    await emit_event(
        town, EventType.AGENT_STOPPED, "Agent stopped (stop requested)", aid, previous,
        AgentState.STOPPED,
    )
    return ControlResult(aid, agent.name, previous, AgentState.STOPPED)


async def interrupt(town: Town, ref: str) -> ControlResult:
    """Pause a live agent: it finishes its round, then waits (cli.md §4.2).

    Raises:
        AgentNotFoundError: no such agent record.
        InvalidStateError: the agent is Stopped, Error or Cold.
    """
    return await _control(
        town, ref, AgentState.PAUSED, EventType.AGENT_INTERRUPTED, "Agent interrupted (paused)",
        allowed=_LIVE, stop_flag="keep", activity=INTERRUPT_ACTIVITY,
        refusal="is in terminal state {state} and cannot be interrupted",
    )


async def resume(town: Town, ref: str) -> ControlResult:
    """Resume a paused agent: state Idle and the stop flag removed (cli.md §4.3).

    Raises:
        AgentNotFoundError: no such agent record.
        InvalidStateError: the agent is not Paused.
    """
    return await _control(
        town, ref, AgentState.IDLE, EventType.AGENT_RESUMED, "Agent resumed",
        allowed=frozenset({AgentState.PAUSED}), stop_flag="clear", activity=RESUME_ACTIVITY,
        refusal="is {state}, not Paused — cannot resume",
    )


async def close(town: Town, ref: str) -> ControlResult:
    """Drain an agent: state Draining plus the stop flag (cli.md §4.4).

    The runtime completes the current round and then stops (final state Stopped).

    Raises:
        AgentNotFoundError: no such agent record.
        InvalidStateError: the agent is already Stopped, Error or Cold.
    """
    return await _control(
        town, ref, AgentState.DRAINING, EventType.AGENT_STOPPED,
        "Agent closing (draining then stop)",
        allowed=_LIVE, stop_flag="set", activity=CLOSE_ACTIVITY,
        refusal="is already in terminal state {state}",
    )


def check_wait_timeout(timeout_s: float | None) -> None:
    """Validate a ``wait`` timeout given by a user (None: wait forever).

    Raises:
        InvalidInputError: a negative or non-finite timeout.
    """
    if timeout_s is not None and not (0 <= timeout_s < float("inf")):
        raise InvalidInputError(f"--timeout must be a non-negative number of seconds: {timeout_s}")


async def wait(
    town: Town, ref: str, timeout_s: float | None = None, *, recheck_s: float = WAIT_RECHECK_S
) -> WaitResult:
    """Wait until the agent is Stopped, Error or Cold, or ``timeout_s`` elapses.

    Blocks on the agent's event stream (``XREAD BLOCK``): the runtime and the
    services record every stop and failure there, so the wait ends as soon as
    one happens. The state is re-read after each event and at least every
    ``recheck_s`` (a change made without an event, e.g. by another tool).
    On timeout the current state is returned with ``timed_out=True`` (not an error).

    Raises:
        InvalidInputError: a negative or non-finite timeout.
        AgentNotFoundError: no such agent record (also if it disappears meanwhile).
    """
    check_wait_timeout(timeout_s)
    agent = await _require_record(town, ref)
    aid, name = agent.id, agent.name

    async def state_now() -> AgentState:
        state = await town.channel.get_agent_state(aid)
        if state is None:
            raise AgentNotFoundError(str(aid))
        return state

    stream = town.channel.keys.agent_events(aid)
    with trio.move_on_after(float("inf") if timeout_s is None else timeout_s):
        last = await _last_entry_id(town, stream)  # before the state: no event slips between
        while True:
            state = await state_now()
            if state.is_terminal:
                return WaitResult(aid, name, state, timed_out=False)
            last = await _next_entry_id(town, stream, last, recheck_s)
    return WaitResult(aid, name, await state_now(), timed_out=True)


async def _last_entry_id(town: Town, stream: str) -> str:
    try:
        newest = await town.redis.execute("XREVRANGE", stream, "+", "-", "COUNT", 1)
    except ResponseError:  # not a stream (corrupt key): rely on re-reading the state
        return "0-0"
    return str(newest[0][0]) if newest else "0-0"


async def _next_entry_id(town: Town, stream: str, last: str, block_s: float) -> str:
    """Block until an entry after ``last`` arrives or ``block_s`` passes; the id to go on from."""
    try:
        reply = await town.redis.execute(
            "XREAD", "COUNT", 100, "BLOCK", max(int(block_s * 1000), 1), "STREAMS", stream, last
        )
    except ResponseError:
        await trio.sleep(block_s)
        return last
    return str(reply[0][1][-1][0]) if reply else last


async def prune(town: Town, *, everything: bool = False) -> list[Agent]:
    """Remove Stopped and Error agents (every agent with ``everything``) and their keys.

    Their pending task messages go to the backlog first, never vanish
    (:func:`tinytown.services.prune.prune_agents`, which also reports them).
    Each removal re-checks the state atomically on the server, so an agent
    restarted meanwhile is kept. Returns the removed agents, oldest first.
    """
    from tinytown.services.prune import prune_agents

    return [p.agent for p in await prune_agents(town, everything=everything)]


# --- helpers ---------------------------------------------------------------------------


async def _require_record(town: Town, ref: str) -> Agent:
    _, agent = await town.resolve(ref)
    if agent is None:
        raise AgentNotFoundError(f"{ref} (the supervisor mailbox has no agent record)")
    return agent


async def _control(
    town: Town,
    ref: str,
    new_state: AgentState,
    event: EventType,
    message: str,
    *,
    allowed: frozenset[AgentState],
    stop_flag: StopFlag,
    activity: str,
    refusal: str,
) -> ControlResult:
    """The agent's record, moved to ``new_state`` by :func:`transition`, then the event."""
    agent = await _require_record(town, ref)
    previous = await transition(
        town, agent, new_state, allowed=allowed, stop_flag=stop_flag, activity=activity,
        refusal=refusal,
    )
    await emit_event(town, event, message, agent.id, previous, new_state)
    return ControlResult(agent.id, agent.name, previous, new_state)
