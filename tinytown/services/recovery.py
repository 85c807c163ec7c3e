"""Recovery of agents whose runtime died (``tt recover``, cli.md §6.1).

An agent is *orphaned* when it is not terminal and its ``last_heartbeat`` is
older than a threshold (120 s by default, strictly greater). The runtime
refreshes the heartbeat every few seconds while an actor is alive, including
during long model runs, so a live agent that has been Working for an hour is
never recovered. (0.10 also looked at the mtime of ``.tt/logs/<name>.log`` and
therefore stopped long-running agents; that rule is deliberately dropped.)

Recovering an agent marks it Stopped, bumps its incarnation (fencing off any
actor or model round of the dead runtime that is still alive somewhere),
logs an activity line and returns the messages it had taken but not
acknowledged to the head of its inbox, where ``tt reclaim`` and ``tt restart``
find them — all in one transaction; the task it was running goes back to
Assigned, as after a failed round. Each recovery re-reads the record under
``WATCH`` and gives up if a heartbeat arrived meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

import attrs
import trio

from tinytown.codec import agent_from_hash, hash_ts, pairs_to_dict
from tinytown.errors import InvalidInputError, WatchError
from tinytown.models import Agent, AgentId, AgentState
from tinytown.scripts import PUSH_ACTIVITY, RECOVER_TASK, REQUEUE_PROCESSING
from tinytown.town import Town, utcnow

ORPHAN_THRESHOLD_S: Final = 120.0
"""Seconds without a heartbeat after which a non-terminal agent counts as orphaned."""

RECOVER_ACTIVITY: Final = "🔄 Recovered (orphaned)"
"""Activity line written by the library/API recovery."""

RECOVER_ACTIVITY_CLI: Final = "🔄 Recovered by tt recover (orphaned)"
"""Activity line written by ``tt recover``."""

_CONFIRM_ATTEMPTS: Final = 20

@attrs.frozen
class Orphan:
    """A non-terminal agent whose heartbeat is too old.

    Attributes:
        agent: The record as read.
        silent_s: Seconds between its last heartbeat and ``now``.
    """

    agent: Agent
    silent_s: float


@attrs.frozen
class RecoverReport:
    """Outcome of :func:`recover`.

    Attributes:
        checked: Agents looked at (every agent of the town).
        recovered: The orphans marked Stopped, with their state before.
        requeued: Unacknowledged messages returned to those agents' inboxes.
    """

    checked: int
    recovered: list[Orphan]
    requeued: int


def find_orphans(
    agents: Iterable[Agent], now: datetime, threshold_s: float = ORPHAN_THRESHOLD_S
) -> list[Orphan]:
    """Pure: the non-terminal agents whose last heartbeat is more than ``threshold_s`` old.

    Args:
        agents: Agent records.
        now: The current time (timezone-aware).
        threshold_s: Silence, in seconds, that makes an agent orphaned (strictly greater).

    Returns:
        The orphans, in the order given.
    """
    out = []
    for agent in agents:
        if agent.state.is_terminal:
            continue
        silent = (now - agent.last_heartbeat).total_seconds()
        if silent > threshold_s:
            out.append(Orphan(agent, silent))
    return out


def check_threshold(threshold_s: float) -> float:
    """Validate a threshold given by a user.

    Raises:
        InvalidInputError: not a positive, finite number of seconds.
    """
    if not (0 < threshold_s < float("inf")):
        raise InvalidInputError(
            f"The orphan threshold must be a positive number of seconds: {threshold_s}"
        )
    return threshold_s


async def recover(
    town: Town,
    *,
    now: datetime | None = None,
    threshold_s: float = ORPHAN_THRESHOLD_S,
    activity: str = RECOVER_ACTIVITY,
) -> RecoverReport:
    """Mark orphaned agents Stopped and requeue their unacknowledged messages.

    Args:
        town: The connected town.
        now: The time to judge heartbeats against (default: the current time).
        threshold_s: Seconds of silence that make an agent orphaned.
        activity: The activity line logged for each recovered agent.

    Raises:
        InvalidInputError: a threshold that is not a positive number.
    """
    check_threshold(threshold_s)
    when = now or utcnow()
    agents = await town.channel.list_agents()
    recovered = []
    requeued = 0
    for candidate in find_orphans(agents, when, threshold_s):
        confirmed = await _stop_if_still_orphaned(
            town, candidate.agent.id, when, threshold_s, activity
        )
        if confirmed is not None:
            orphan, n = confirmed
            recovered.append(orphan)
            requeued += n
    return RecoverReport(checked=len(agents), recovered=recovered, requeued=requeued)


async def _stop_if_still_orphaned(
    town: Town, aid: AgentId, now: datetime, threshold_s: float, activity: str
) -> tuple[Orphan, int] | None:
    """Stop, fence and requeue one orphan atomically; it and how many messages were requeued."""
    keys = town.channel.keys
    key = keys.agent(aid)
    for _ in range(_CONFIRM_ATTEMPTS):
        try:
            async with town.redis.watch(key) as tx:
                fields = pairs_to_dict(await tx.execute("HGETALL", key))
                if not fields:
                    return None
                found = find_orphans([agent_from_hash(fields, key, now=now)], now, threshold_s)
                if not found:
                    return None
                pipe = (
                    tx.pipeline(transaction=True)
                    .cmd("HSET", key, "state", AgentState.STOPPED.value)
                    .cmd("HINCRBY", key, "incarnation", 1)
                    .cmd("HDEL", key, "round_token")
                )
                REQUEUE_PROCESSING.queue(pipe, [keys.processing(aid), keys.inbox(aid),
                                                keys.urgent(aid), keys.inflight_urgent(aid),
                                                keys.batch(aid)], [])
                PUSH_ACTIVITY.queue(pipe, [keys.activity(aid)], [activity])
                current = found[0].agent.current_task
                if current is not None:
                    RECOVER_TASK.queue(pipe, [key, keys.task(current)], [str(aid), hash_ts(now)])
                replies = await pipe.execute()
                return found[0], int(replies[3])
        except WatchError:
            await trio.lowlevel.checkpoint()
    return None
