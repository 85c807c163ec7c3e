"""The "needs you" inbox of a town: read the facts, rank them (``services/attention_rank``).

It reads in a fixed number of round trips whatever the town's size: agents,
tasks, the supervisor mailbox, every agent's queue lengths in one pipeline,
the runtime's liveness, and the missions. It lives at the runtime's layer
because "pending work that will not run" depends on whether this host's
runtime is alive (:mod:`tinytown.runtime.strands`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tinytown.channel import reply_or
from tinytown.models import Agent, AgentState, Task, TaskState
from tinytown.models.mission import MissionState, WatchStatus, WorkStatus
from tinytown.runtime.strands import idle_reason, runtime_health
from tinytown.services import missions as mission_service
from tinytown.services.attention_rank import (
    AgentFact,
    DeadLetterFact,
    Entry,
    Facts,
    GateFact,
    HelpFact,
    QueryFact,
    RunningTaskFact,
    WatchFact,
    rank,
)
from tinytown.services.deadletters import from_replies, queue_reads
from tinytown.services.queries import open_queries
from tinytown.town import Town, utcnow

DURATION_SAMPLES = 200
"""How many recently completed tasks define the usual duration."""


def _durations(tasks: Sequence[Task]) -> list[float]:
    done = [
        t for t in tasks
        if t.state is TaskState.COMPLETED and t.started_at is not None
        and t.completed_at is not None
    ]
    done.sort(key=lambda t: t.completed_at or t.updated_at, reverse=True)
    return [
        (t.completed_at - t.started_at).total_seconds()  # type: ignore[operator]
        for t in done[:DURATION_SAMPLES]
    ]


def _running(tasks: Sequence[Task], names: dict[str, str]) -> list[RunningTaskFact]:
    return [
        RunningTaskFact(
            task_id=str(t.id),
            description=t.description,
            agent=names.get(str(t.assigned_to)) if t.assigned_to else None,
            started_at=t.started_at or t.updated_at,
        )
        for t in tasks
        if t.state is TaskState.RUNNING
    ]


async def _agent_facts(
    town: Town, agents: Sequence[Agent], now: datetime
) -> tuple[list[AgentFact], list[DeadLetterFact]]:
    health = await runtime_health(town, agents)
    keys = town.channel.keys
    pipe = town.redis.pipeline()
    for a in agents:
        pipe.cmd("LLEN", keys.inbox(a.id))
        pipe.cmd("LLEN", keys.urgent(a.id))
        queue_reads(pipe, town, a.id)
    replies = await pipe.execute(raise_on_error=False) if agents else []
    facts = []
    dead = []
    for i, a in enumerate(agents):
        length, urgent, dl_len, dl_entries = replies[4 * i : 4 * i + 4]
        pending = reply_or(length, keys.inbox(a.id), 0) + reply_or(urgent, keys.urgent(a.id), 0)
        facts.append(
            AgentFact(
                name=a.name,
                state=a.state.value,
                state_since=a.last_active_at,
                pending=pending,
                will_run=idle_reason(a, health) is None or a.state is AgentState.PAUSED,
                runtime_up=not (a.host == health.host and health.down),
            )
        )
        letters = from_replies(dl_len, dl_entries, keys.deadletter(a.id))
        if letters.count:
            # The newest readable entry speaks for the list; unreadable ones still count.
            reason, at = ((letters.latest[-1].reason, letters.latest[-1].at) if letters.latest
                          else ("an entry of the dead-letter list is unreadable", now))
            dead.append(DeadLetterFact(a.name, "", reason, at, letters.count))
    return facts, dead


async def _mission_facts(town: Town, now: datetime) -> tuple[
    list[GateFact], list[HelpFact], list[WatchFact]
]:
    gates: list[GateFact] = []
    helps: list[HelpFact] = []
    watches: list[WatchFact] = []
    for mission in await mission_service.list_missions(town):
        if mission.state is MissionState.BLOCKED:
            helps.append(HelpFact(str(mission.id), mission.blocked_reason or "blocked",
                                  mission.updated_at))
        state = await mission_service.status(town, mission.id, events=0)
        if mission.policy.reviewer_required:
            gates.extend(
                GateFact(str(mission.id), str(item.id), item.title, item.updated_at)
                for item in state.items
                if item.status is WorkStatus.BLOCKED and not item.reviewer_approved
            )
        watches.extend(
            WatchFact(str(mission.id), str(w.work_item_id), w.target_ref,
                      w.consecutive_failures, "check failed",
                      w.last_check_at or now)
            for w in state.watches
            if w.status is not WatchStatus.DONE
        )
    return gates, helps, watches


async def attention(town: Town, now: datetime | None = None) -> list[Entry]:
    """Everything in the town that needs a human now, the most pressing first."""
    when = now or utcnow()
    agents = await town.channel.list_agents()
    tasks = await town.channel.list_tasks()
    names = {str(a.id): a.name for a in agents}
    gates, helps, watches = await _mission_facts(town, when)
    helped = {h.mission_id for h in helps}
    queries = [
        QueryFact(
            message_id=str(q.message.id),
            from_agent=names.get(str(q.message.from_), str(q.message.from_)),
            question=q.question,
            sent_at=q.message.created_at,
        )
        for q in await open_queries(town)
        # A mission's help request is one entry (with its mission's actions), not two.
        if not any(mid in q.question for mid in helped)
    ]
    agent_facts, dead_letters = await _agent_facts(town, agents, when)
    facts = Facts(
        queries=queries,
        agents=agent_facts,
        dead_letters=dead_letters,
        running=_running(tasks, names),
        completed_durations_s=_durations(tasks),
        gates=gates,
        help_requests=helps,
        watches=watches,
    )
    return rank(facts, when)
