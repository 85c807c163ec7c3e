"""``tt prune``: remove Stopped/Error agents (every agent with ``--all``) without losing work.

0.10 deleted a pruned agent's queues with it, pending task messages included.
Here the tasks go to the backlog first:

1. messages in flight (``processing``, left by a killed runtime) go back to
   their queues (:meth:`~tinytown.channel.Channel.requeue_processing`);
2. every task message (``task_assign`` and free-text ``task``) moves to the
   backlog as ``tt reclaim --to-backlog`` moves it (one script per message;
   assigned task records become Pending and unassigned);
3. the agent's keys (and its entry in the name index) are deleted by a
   script that re-checks, on the server, its state and that its queues hold
   exactly what was left (messages that are not tasks: queries, updates,
   confirmations). A message that arrived meanwhile makes that agent go
   round again.

The report says which tasks went to the backlog and how many other messages
were dropped with their agent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

import attrs

from tinytown.errors import ResponseError
from tinytown.models import Agent, AgentId, AgentState, TaskId
from tinytown.scripts import DELETE_AGENT_IF_DRAINED
from tinytown.services._agent_state import wake
from tinytown.services.reclaim import read_inboxes, reclaim_to_backlog
from tinytown.town import Town

log = logging.getLogger("tinytown")

MAX_PASSES: Final = 5


@attrs.frozen
class Pruned:
    """One removed agent: the tasks its queues held (now in the backlog), messages dropped."""

    agent: Agent
    to_backlog: tuple[TaskId, ...] = ()
    dropped: int = 0


async def prune_agents(town: Town, *, everything: bool = False) -> list[Pruned]:
    """Remove Stopped and Error agents (every agent with ``everything``), tasks to the backlog.

    Each removal re-checks the state atomically on the server, so an agent
    restarted meanwhile is kept. Returns the removed agents, oldest first.
    """
    allowed = () if everything else tuple(s.value for s in AgentState if s.is_prunable)
    agents = [a for a in await town.channel.list_agents() if everything or a.state.is_prunable]
    done: dict[AgentId, Pruned] = {}
    moved: dict[AgentId, list[TaskId]] = {a.id: [] for a in agents}
    pending = list(agents)
    for _ in range(MAX_PASSES):
        if not pending:
            break
        pending = await _one_pass(town, pending, allowed, moved, done)
    for pruned in done.values():
        host = pruned.agent.host
        if host and not pruned.agent.state.is_terminal:  # --all: a live actor should notice now
            await wake(town, pruned.agent.id, host)
    return [done[a.id] for a in agents if a.id in done]


async def _one_pass(
    town: Town,
    agents: Sequence[Agent],
    allowed: tuple[str, ...],
    moved: dict[AgentId, list[TaskId]],
    done: dict[AgentId, Pruned],
) -> list[Agent]:
    """Drain and delete ``agents`` once; the agents whose queues changed meanwhile."""
    for agent in agents:
        try:
            await town.channel.requeue_processing(agent.id)
        except ResponseError as exc:  # a wrong-typed processing key: reported, then deleted
            log.warning("skipping %s: %s", town.channel.keys.processing(agent.id), exc)
    boxes = await read_inboxes(town, agents)
    results = await reclaim_to_backlog(town, boxes)
    keys = town.channel.keys
    pipe = town.redis.pipeline()
    left: list[int] = []
    for box, moves in zip(boxes, results, strict=True):
        moved[box.agent.id] += [m.task_id for m in moves if m.moved and m.task_id is not None]
        remaining = box.message_count - sum(1 for m in moves if m.done)
        left.append(remaining)
        script_keys = [*keys.agent_keys(box.agent.id), keys.names]
        DELETE_AGENT_IF_DRAINED.queue(pipe, script_keys, [remaining, *allowed])
    again = []
    for box, remaining, reply in zip(boxes, left, await pipe.execute(), strict=True):
        if reply == 1:
            done[box.agent.id] = Pruned(box.agent, tuple(moved[box.agent.id]), remaining)
        elif reply == -1:
            again.append(box.agent)
    return again
