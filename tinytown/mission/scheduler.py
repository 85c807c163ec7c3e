"""Scheduler decisions (missions.md §5): pure functions over loaded records and ``now``.

Each step returns the changed items and the log lines to write; the async
shell (:mod:`tinytown.mission.tick`) loads, calls these in order and saves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

import attrs

from tinytown.mission.binding import TaskKind, binding_of
from tinytown.mission.scoring import best_agent
from tinytown.models import Agent, AgentState, Task, TaskState
from tinytown.models.mission import (
    MissionPolicy,
    MissionRun,
    MissionState,
    WatchItem,
    WatchStatus,
    WorkItem,
    WorkItemId,
    WorkKind,
    WorkStatus,
)

TICK_INTERVAL_S: Final = 30
WAITING_REASON: Final = "Waiting on dependency, review, or external watch"
RESYNC_GRACE_S: Final = 60
COMPLETED_TEXT: Final = "Mission completed - all work items and watches done"


@attrs.define
class Step:
    """Items changed by a step (by id) and the log lines it produced."""

    items: list[WorkItem]
    changed: set[str] = attrs.field(factory=set)
    logs: list[str] = attrs.field(factory=list)

    def put(self, index: int, item: WorkItem, line: str | None = None) -> None:
        self.items[index] = item
        self.changed.add(item.id.text)
        if line:
            self.logs.append(line)


def gated(item: WorkItem, policy: MissionPolicy) -> bool:
    """The reviewer gate (missions.md §6.2)."""
    return policy.reviewer_required and item.kind in (WorkKind.IMPLEMENT, WorkKind.TEST)


def _task_rank(task: Task, kind: TaskKind) -> tuple[int, int, datetime]:
    state = {TaskState.RUNNING: 2, TaskState.ASSIGNED: 1}.get(task.state, 0)
    return (kind.value, state, task.updated_at)


def reconcile(step: Step, mission: MissionRun, tasks: Sequence[Task],
              agents: dict[str, Agent], now: datetime) -> None:
    """Step −1: follow live mission tasks; release assignees that are gone or terminal."""
    live: dict[str, list[tuple[Task, TaskKind]]] = {}
    for task in tasks:
        b = binding_of(task)
        if task.is_terminal or b is None or b.kind is None or b.mission_id != mission.id:
            continue
        live.setdefault(b.work_item_id.text, []).append((task, b.kind))
    for index, item in enumerate(step.items):
        if item.is_done:
            continue
        bound = live.get(item.id.text)
        if bound:
            task, kind = max(bound, key=lambda tk: _task_rank(*tk))
            if task.assigned_to != item.assigned_to:
                item = attrs.evolve(item, assigned_to=task.assigned_to, updated_at=now)
                step.put(index, item, f"Rebound work item '{item.title}' to live mission task "
                                      f"owner {task.assigned_to}")
            mapped = {TaskState.RUNNING: WorkStatus.RUNNING,
                      TaskState.ASSIGNED: WorkStatus.ASSIGNED}.get(task.state)
            if kind in (TaskKind.WORK, TaskKind.FIX) and mapped and item.status is not mapped:
                step.put(index, item.with_status(mapped, now),
                         f"Updated work item '{item.title}' to {mapped.label} from live "
                         "mission task")
            continue
        if item.assigned_to is None:
            continue
        agent = agents.get(item.assigned_to.text)
        if agent is not None and not agent.state.is_terminal:
            continue
        gone = item.assigned_to
        if item.status in (WorkStatus.ASSIGNED, WorkStatus.RUNNING):
            step.put(index, attrs.evolve(item, assigned_to=None, status=WorkStatus.READY,
                                         updated_at=now),
                     f"Released stale assignee {gone} from work item '{item.title}'")
        elif item.status is WorkStatus.BLOCKED:
            step.put(index, attrs.evolve(item, assigned_to=None, updated_at=now),
                     f"Cleared stale blocked assignee {gone} from work item '{item.title}'")


def unsynced_submissions(items: Sequence[WorkItem], mission_id: object,
                         tasks: Sequence[Task], now: datetime) -> list[tuple[WorkItemId, Task]]:
    """Completed work/fix tasks whose submission never reached their in-progress item.

    The completion hook runs inside the task-complete service; a completion that
    bypassed it (another tool on the shared town, a crash between the two writes)
    would leave the item assigned to a live agent with no live task, forever.
    Tasks completed less than ``RESYNC_GRACE_S`` ago are left to the hook itself.
    """
    cutoff = now - timedelta(seconds=RESYNC_GRACE_S)
    live: set[str] = set()
    done: dict[str, list[Task]] = {}
    for task in tasks:
        b = binding_of(task)
        if b is None or b.mission_id != mission_id:
            continue
        if not task.is_terminal and b.kind is not None:
            live.add(b.work_item_id.text)
        elif task.state is TaskState.COMPLETED and b.kind in (TaskKind.WORK, TaskKind.FIX, None):
            done.setdefault(b.work_item_id.text, []).append(task)
    out = []
    for item in items:
        if item.status not in (WorkStatus.ASSIGNED, WorkStatus.RUNNING) or item.id.text in live:
            continue
        missed = [t for t in done.get(item.id.text, [])
                  if f"task:{t.id}" not in item.artifact_refs
                  and (t.completed_at or t.updated_at) <= cutoff]
        if missed:
            out.append((item.id, max(missed, key=lambda t: t.completed_at or t.updated_at)))
    return out


def finalize_waiting(step: Step, watches: Sequence[WatchItem], policy: MissionPolicy,
                     now: datetime) -> None:
    """Step 0: a blocked item whose gates are all satisfied becomes done."""
    for index, item in enumerate(step.items):
        if item.status is not WorkStatus.BLOCKED:
            continue
        if not (item.artifact_refs or item.reviewer_approved):
            continue
        if gated(item, policy) and not item.reviewer_approved:
            continue
        if any(w.work_item_id == item.id and w.status is not WatchStatus.DONE for w in watches):
            continue
        step.put(index, item.done(now), f"Work item '{item.title}' completed")


def promote(step: Step, now: datetime) -> None:
    """Step 1: pending items whose dependencies are all done become ready."""
    done = {i.id.text for i in step.items if i.is_done}
    for index, item in enumerate(step.items):
        if item.status is WorkStatus.PENDING and all(d.text in done for d in item.depends_on):
            step.put(index, item.with_status(WorkStatus.READY, now),
                     f"Work item '{item.title}' promoted to ready")


def plan_assignments(items: Sequence[WorkItem], agents: Sequence[Agent],
                     policy: MissionPolicy) -> list[tuple[WorkItem, Agent]]:
    """Step 2 decisions: ready items (in order) for the free slots, to the best idle agent."""
    busy = sum(1 for i in items if i.status in (WorkStatus.ASSIGNED, WorkStatus.RUNNING))
    slots = max(policy.max_parallel_items - busy, 0)
    idle = [a for a in agents if a.state is AgentState.IDLE]
    if not slots or not idle:
        return []
    given: dict[str, int] = {}
    picks = []
    for item in [i for i in items if i.status is WorkStatus.READY][:slots]:
        agent = best_agent(item, idle, given)
        if agent is not None:
            given[agent.id.text] = given.get(agent.id.text, 0) + 1
            picks.append((item, agent))
    return picks


@attrs.frozen
class StateDecision:
    mission: MissionRun
    changed: bool
    completed: bool
    logs: tuple[str, ...] = ()


def decide_state(mission: MissionRun, items: Sequence[WorkItem], watches: Sequence[WatchItem],
                 now: datetime) -> StateDecision:
    """Step 3. Unlike 0.10, a mission with no work items at all completes."""
    all_work = all(i.is_done for i in items)
    active = [w for w in watches if w.status is not WatchStatus.DONE]
    if all_work and not active:
        return StateDecision(mission.completed(now), True, True, (COMPLETED_TEXT,))
    earliest = min((w.next_due_at for w in active), default=None)
    if all_work:
        return _waiting(mission, f"Waiting on {len(active)} active watch(es)", earliest, now)
    statuses = {i.status for i in items}
    if not statuses & {WorkStatus.READY, WorkStatus.ASSIGNED, WorkStatus.RUNNING}:
        wake = earliest or now + timedelta(seconds=TICK_INTERVAL_S)
        return _waiting(mission, WAITING_REASON, wake, now)
    if mission.blocked_reason is not None or mission.next_wake_at is not None:
        return StateDecision(attrs.evolve(mission, blocked_reason=None, next_wake_at=None,
                                          updated_at=now), True, False)
    return StateDecision(mission, False, False)


def _waiting(mission: MissionRun, reason: str, wake: datetime | None,
             now: datetime) -> StateDecision:
    if mission.blocked_reason == reason and mission.next_wake_at == wake:
        return StateDecision(mission, False, False)
    return StateDecision(
        attrs.evolve(mission, blocked_reason=reason, next_wake_at=wake, updated_at=now),
        True, False,
    )


def is_schedulable(mission: MissionRun | None) -> bool:
    return mission is not None and mission.state is MissionState.RUNNING


def work_description(mission: MissionRun, item: WorkItem) -> str:
    return (
        f"[Mission Work Item] {item.title}\n\nMission: {mission.id}\nWork item: {item.id}\n"
        f"Source: {item.source_ref or 'unknown'}\n\nWhen this creates or updates a PR, complete "
        "the task with the PR URL or owner/repo#PR in the result so mission watches can take "
        "over automatically."
    )
