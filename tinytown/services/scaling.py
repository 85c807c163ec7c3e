"""Work accounting for probes and autoscalers: pending work, the scaling signal, metrics.

Pure decisions (:func:`recommend`, :func:`dispatcher_status`) are separate
from the reads (:func:`pending_assignments`, :func:`scaling_signal`,
:func:`metrics_snapshot`). Semantics: townhall.md §5.2 and distributed.md §3.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from tinytown.errors import ResponseError
from tinytown.models import Agent, AgentState, TaskId, TaskState
from tinytown.models.message import Task as TaskMessage
from tinytown.models.message import TaskAssign, assigned_task_id
from tinytown.models.mission import MissionRun
from tinytown.town import Town

PEEK_PER_AGENT: Final = 100
DISPATCHER_FRESH_S: Final = 90
DOCKET_GROUP: Final = "workers"


@attrs.frozen
class PendingTask:
    """A task waiting in an agent's regular inbox."""

    task_id: str
    description: str
    agent: Agent


async def pending_assignments(town: Town, agents: Sequence[Agent]) -> list[PendingTask]:
    """Tasks queued in regular inboxes (first 100 per agent), as 0.10's ``/v1/tasks/pending``.

    An assignment counts if its task record exists; a free-text task message
    counts with a fresh id (it has no record).
    """
    peeked = await town.channel.peek_many([a.id for a in agents], PEEK_PER_AGENT)
    wanted: list[TaskId] = []
    for _urgent, inbox in peeked.values():
        wanted += [tid for m in inbox if (tid := assigned_task_id(m.kind)) is not None]
    records = await town.channel.get_tasks(wanted)
    out: list[PendingTask] = []
    for agent in agents:
        for message in peeked[agent.id][1]:
            kind = message.kind
            if isinstance(kind, TaskAssign):
                tid = assigned_task_id(kind)
                record = records.get(tid) if tid is not None else None
                if record is not None:
                    out.append(PendingTask(str(record.id), record.description, agent))
            elif isinstance(kind, TaskMessage):
                out.append(PendingTask(str(uuid.uuid4()), kind.description, agent))
    return out


# --- the scaling signal ----------------------------------------------------------------


@attrs.frozen
class ScalingSignal:
    town: str
    timestamp: datetime
    pending_tasks: int
    in_flight_tasks: int
    active_agents: int
    cold_agents: int
    max_agents: int

    @property
    def queue_depth(self) -> int:
        return self.pending_tasks + self.in_flight_tasks

    @property
    def desired_agents(self) -> int:
        return min(self.queue_depth, self.max_agents)


def all_idle(agents: Iterable[Agent], idle_timeout_s: int, now: datetime) -> bool:
    """Every active agent has been Idle for ``idle_timeout_s`` (0: no active agent at all)."""
    active = [a for a in agents if a.state.is_active]
    if idle_timeout_s == 0:
        return not active
    limit = timedelta(seconds=idle_timeout_s)
    return all(a.state is AgentState.IDLE and now - a.last_active_at >= limit for a in active)


def recommend(signal: ScalingSignal, idle: bool) -> str:
    """``scale_to_zero``, ``scale_up``, ``scale_down`` or ``steady`` (distributed.md §3.4)."""
    desired, pending = signal.desired_agents, signal.pending_tasks
    in_flight = signal.in_flight_tasks
    if desired == 0 and pending == 0 and in_flight == 0 and idle:
        return "scale_to_zero"
    if desired > signal.active_agents:
        return "scale_up"
    if desired < signal.active_agents and pending == 0:
        return "scale_down"
    return "steady"


async def _stream_counts(town: Town) -> tuple[int, int]:
    stream = town.channel.keys.docket_tasks
    try:
        summary = await town.redis.execute("XPENDING", stream, DOCKET_GROUP)
        in_flight = int(summary[0]) if summary else 0
    except ResponseError as exc:
        if exc.code != "NOGROUP":
            raise
        in_flight = 0
    lag: Any = None
    try:
        for group in await town.redis.execute("XINFO", "GROUPS", stream):
            fields = dict(zip(group[::2], group[1::2], strict=False))
            if fields.get("name") == DOCKET_GROUP:
                lag = fields.get("lag")
    except ResponseError as exc:
        if "no such key" not in str(exc).lower() and exc.code != "NOGROUP":
            raise
    if not isinstance(lag, int):
        lag = int(await town.redis.execute("XLEN", stream))
    return lag, in_flight


async def scaling_signal(town: Town, now: datetime) -> tuple[ScalingSignal, str]:
    """The autoscaler signal of ``/api/scaling`` and its recommendation."""
    agents = await town.channel.list_agents()
    if town.config.use_streams:
        pending, in_flight = await _stream_counts(town)
    else:
        backlog = int(await town.redis.execute("LLEN", town.channel.keys.backlog))
        pending = backlog + len(await pending_assignments(town, agents))
        running = {str(t.id) for t in await town.channel.list_tasks()
                   if t.state is TaskState.RUNNING}
        running |= {str(a.current_task) for a in agents
                    if a.state.is_active and a.current_task is not None}
        in_flight = len(running)
    signal = ScalingSignal(
        town=town.name,
        timestamp=now,
        pending_tasks=pending,
        in_flight_tasks=in_flight,
        active_agents=sum(1 for a in agents if a.state.is_active),
        cold_agents=sum(1 for a in agents if a.state is AgentState.COLD),
        max_agents=town.config.max_agents,
    )
    idle = all_idle(agents, town.config.agent.idle_timeout_secs or 0, now)
    return signal, recommend(signal, idle)


# --- readiness and metrics ----------------------------------------------------------


async def ping_latency_s(town: Town) -> float:
    """One PING round trip, in seconds.

    Raises:
        RedisError: Redis did not answer PONG.
    """
    start = time.perf_counter()
    reply = await town.redis.execute("PING")
    elapsed = time.perf_counter() - start
    if reply not in ("PONG", b"PONG"):
        raise ResponseError(f"Unexpected Redis PING response: {reply!r}")
    return elapsed


def dispatcher_status(missions: Iterable[MissionRun], now: datetime) -> str:
    """``idle`` (no live mission), ``running`` (a live one ticked within 90 s) or ``stalled``."""
    live = [m for m in missions if not m.state.is_terminal]
    if not live:
        return "idle"
    fresh = timedelta(seconds=DISPATCHER_FRESH_S)
    for mission in live:
        tick = mission.dispatcher_last_tick_at
        if tick is not None and now - tick <= fresh:
            return "running"
    return "stalled"


@attrs.frozen
class MetricsSnapshot:
    """What ``/metrics`` reports."""

    latency_s: float
    agents_by_state: dict[str, int]
    backlog: int
    assigned_pending: int
    completed: int
    missions_active: int
    urgent: int

    @property
    def tasks_pending(self) -> int:
        return self.backlog + self.assigned_pending


async def metrics_snapshot(town: Town) -> MetricsSnapshot:
    """Gather the metrics (raises whatever Redis raises; the route reports it)."""
    latency = await ping_latency_s(town)
    agents = await town.channel.list_agents()
    by_state: dict[str, int] = {}
    for a in agents:
        by_state[a.state.value] = by_state.get(a.state.value, 0) + 1
    sizes = await town.channel.pending_counts([a.id for a in agents]) if agents else {}
    keys = town.channel.keys
    pipe = town.redis.pipeline().cmd("LLEN", keys.backlog)
    backlog, active = await pipe.cmd("SCARD", keys.mission_active).execute()
    tasks = await town.channel.list_tasks()
    return MetricsSnapshot(
        latency_s=latency,
        agents_by_state=dict(sorted(by_state.items())),
        backlog=int(backlog),
        assigned_pending=len(await pending_assignments(town, agents)),
        completed=sum(1 for t in tasks if t.state is TaskState.COMPLETED),
        missions_active=int(active),
        urgent=sum(urgent for _inbox, urgent in sizes.values()),
    )
