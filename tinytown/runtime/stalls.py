"""Rounds that end without progress: a task the model was given is still not done.

A model CLI that cannot act unattended (``claude --print`` without
``--dangerously-skip-permissions``, the book's sample config) has every tool
call refused, yet exits 0: the round "completes" and the task would stay
Running forever with nothing on screen. After a successful round, each task
the round was given that is still not finished is a *stall*: its assignment
goes back to the inbox and the task back to Assigned, so the next round
tries again, and the agent's log says why. After :data:`MAX_STALLED_ROUNDS`
stalls in a row the task is marked Failed with the reason, visible in ``tt
status`` and ``tt task show``, instead of looping.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import attrs

from tinytown.models.message import assigned_task_id
from tinytown.services import tasks as task_service

if TYPE_CHECKING:
    from tinytown.runtime.actor import AgentActor

MAX_STALLED_ROUNDS: Final = 3
NO_PROGRESS_REASON: Final = (
    "no progress in {n} rounds: the model CLI ended each round without completing the task "
    "('tt task complete'); check that it can act unattended (e.g. claude needs "
    "--dangerously-skip-permissions) and see .tt/logs/{agent_id}_round_*.log"
)


@attrs.frozen
class StallOutcome:
    """Raw messages to put back in the queues (urgent, normal) after a round without progress."""

    urgent: tuple[str, ...] = ()
    normal: tuple[str, ...] = ()


async def check_progress(
    actor: AgentActor, r: int, entries: Sequence[tuple[str, object, bool]]
) -> StallOutcome:
    """After a successful round: retry the round's unfinished tasks, or fail them.

    Args:
        actor: the agent's actor (its ``stalled`` counters are updated).
        r: the round number.
        entries: the round's actionable messages as ``(raw, kind, urgent)``.
    """
    wanted = {tid: (raw, urgent) for raw, kind, urgent in entries
              if (tid := assigned_task_id(kind)) is not None}
    if not wanted:
        return StallOutcome()
    tasks = await actor.ctx.town.channel.get_tasks(list(wanted))
    urgent: list[str] = []
    normal: list[str] = []
    for tid, (raw, is_urgent) in wanted.items():
        task = tasks.get(tid)
        if task is None or task.is_terminal or task.assigned_to != actor.agent_id:
            actor.stalled.pop(tid, None)
            continue
        n = actor.stalled.get(tid, 0) + 1
        actor.stalled[tid] = n
        short = str(tid)[:8]
        if n < MAX_STALLED_ROUNDS:
            actor.log.line(
                f"   ⚠️ Round {r} ended but task {short} is not complete "
                f"(no progress {n}/{MAX_STALLED_ROUNDS}); the model did not run "
                "'tt task complete'. Retrying it next round."
            )
            await actor.activity(f"Round {r}: ⚠️ no progress on task {short} "
                                 f"({n}/{MAX_STALLED_ROUNDS})")
            (urgent if is_urgent else normal).append(raw)
            continue
        actor.stalled.pop(tid, None)
        reason = NO_PROGRESS_REASON.format(n=n, agent_id=actor.agent_id)
        actor.log.line(f"   ❌ Task {short} marked Failed: {reason}")
        await actor.activity(f"Round {r}: ❌ task {short} failed: no progress in {n} rounds")
        await task_service.fail(actor.ctx.town, str(tid), reason)
    return StallOutcome(tuple(urgent), tuple(normal))
