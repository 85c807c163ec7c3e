"""The scheduler's async shell: load, decide (:mod:`.scheduler`), save, assign (missions.md §5).

Assignment creates the task first and then marks the item assigned: a crash
in between leaves a live bound task that the next tick adopts, never an item
assigned to nobody's task.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from tinytown.mission import scheduler
from tinytown.mission.binding import TaskKind, create_task, mission_tags
from tinytown.mission.store import MissionStore
from tinytown.models import Agent, AgentId, Task, TaskId
from tinytown.models.mission import MissionId, MissionRun, MissionState, WorkItemId, WorkStatus

if TYPE_CHECKING:
    from tinytown.town import Town

log = logging.getLogger("tinytown.mission")


@attrs.frozen
class MissionTick:
    """What one mission's tick did."""

    mission_id: MissionId
    reconciled: int = 0
    promoted: int = 0
    assigned: tuple[tuple[WorkItemId, AgentId, TaskId], ...] = ()
    completed: tuple[WorkItemId, ...] = ()
    state_changed: bool = False
    new_state: MissionState | None = None
    error: str | None = None

    @property
    def made_progress(self) -> bool:
        return bool(self.state_changed or self.reconciled or self.promoted or self.assigned
                    or self.completed)


@attrs.frozen
class TickSummary:
    results: tuple[MissionTick, ...]

    @property
    def total_promoted(self) -> int:
        return sum(r.promoted for r in self.results)

    @property
    def total_assigned(self) -> int:
        return sum(len(r.assigned) for r in self.results)

    @property
    def missions_completed(self) -> int:
        return sum(1 for r in self.results if r.new_state is MissionState.COMPLETED)


async def tick_missions(town: Town, ids: Sequence[MissionId], now: datetime, *,
                        tasks: list[Task] | None = None) -> TickSummary:
    """One scheduler pass over ``ids``; agents and tasks are read once and shared.

    ``tasks``: the town's tasks when the caller has just read them (tasks created by
    this pass are appended to it). A mission that fails is logged and reported with
    its error; the others go on.
    """
    if not ids:
        return TickSummary(())
    store = MissionStore(town.channel)
    agents = await town.channel.list_agents()
    if tasks is None:
        tasks = await town.channel.list_tasks()
    results = []
    for mission_id in ids:
        try:
            results.append(await tick_mission(town, store, mission_id, agents, tasks, now))
        except Exception as exc:
            log.warning("Scheduler tick failed for mission %s: %s", mission_id, exc)
            results.append(MissionTick(mission_id, error=f"{type(exc).__name__}: {exc}"))
    return TickSummary(tuple(results))


async def tick_active(town: Town, now: datetime) -> TickSummary:
    return await tick_missions(town, await MissionStore(town.channel).active_ids(), now)


async def _resync(town: Town, store: MissionStore, mission_id: MissionId,
                  step: scheduler.Step, unsynced: list[tuple[WorkItemId, Task]],
                  now: datetime) -> None:
    """Feed completed tasks the completion hook never saw (see scheduler.unsynced_submissions)."""
    from tinytown.mission.submission import Gates

    await store.save_work_items(i for i in step.items if i.id.text in step.changed)
    gates = Gates(town, now)
    for item_id, task in unsynced:
        result = task.result or ""
        artifacts = [f"task:{task.id}"] + ([result] if result.strip() else [])
        await store.log(mission_id, f"Recovered the submission of completed task {task.id}", now)
        await gates.record_submission(mission_id, item_id, artifacts)
    fresh = {i.id.text: i for i in await store.list_work_items(mission_id)}
    step.items[:] = [fresh.get(i.id.text, i) for i in step.items]


async def _ask_for_reviews(town: Town, mission: MissionRun, step: scheduler.Step,
                           tasks: list[Task], now: datetime) -> None:
    """Give a review task to gated items still waiting for one (no reviewer was free)."""
    from tinytown.mission.submission import Gates, needs_review_task

    waiting = [i for i in step.items if needs_review_task(i, mission.policy, tasks)]
    if not waiting:
        return
    gates = Gates(town, now)
    for item in waiting:
        task = await gates.ensure_review_task(mission, item)
        if task is not None:
            tasks.append(task)


async def tick_mission(town: Town, store: MissionStore, mission_id: MissionId,
                       agents: Sequence[Agent], tasks: list[Task], now: datetime) -> MissionTick:
    mission = await store.get_mission(mission_id)
    if mission is None or not scheduler.is_schedulable(mission):
        return MissionTick(mission_id)
    items = await store.list_work_items(mission_id)
    watches = await store.list_watches(mission_id)
    step = scheduler.Step(list(items))
    scheduler.reconcile(step, mission, tasks, {a.id.text: a for a in agents}, now)
    reconciled = len(step.changed)
    unsynced = scheduler.unsynced_submissions(step.items, mission.id, tasks, now)
    if unsynced:
        await _resync(town, store, mission_id, step, unsynced, now)
        watches = await store.list_watches(mission_id)
    before = {i.id.text for i in step.items if i.is_done}
    scheduler.finalize_waiting(step, watches, mission.policy, now)
    completed = tuple(i.id for i in step.items if i.is_done and i.id.text not in before)
    ready_before = {i.id.text for i in step.items if i.status is WorkStatus.READY}
    scheduler.promote(step, now)
    promoted = sum(1 for i in step.items
                   if i.status is WorkStatus.READY and i.id.text not in ready_before)
    await store.save_work_items(i for i in step.items if i.id.text in step.changed)
    for line in step.logs:
        await store.log(mission_id, line, now)
    await _ask_for_reviews(town, mission, step, tasks, now)

    assigned = []
    for item, agent in scheduler.plan_assignments(step.items, agents, mission.policy):
        task = await create_task(
            town, agent.id, scheduler.work_description(mission, item),
            mission_tags(TaskKind.WORK, mission.id, item.id), now,
        )
        tasks.append(task)
        updated = item.assigned(agent.id, now)
        step.items[step.items.index(item)] = updated
        await store.save_work_items([updated])
        await store.log(mission_id, f"Assigned '{item.title}' to agent '{agent.name}' as task "
                                    f"{task.id}", now)
        assigned.append((item.id, agent.id, task.id))

    decisions: list[scheduler.StateDecision] = []

    def decide(current: MissionRun) -> MissionRun | None:
        # Decided on the stored record: a stop or pause that came meanwhile wins.
        if not scheduler.is_schedulable(current):
            return None
        decided = scheduler.decide_state(current, step.items, watches, now)
        decisions.append(decided)
        return decided.mission if decided.changed else None

    await store.update_mission(mission_id, decide)
    decision = decisions[-1] if decisions else scheduler.StateDecision(mission, False, False)
    if decision.completed:
        await store.deactivate(mission_id)
    for line in decision.logs:
        await store.log(mission_id, line, now)
    return MissionTick(
        mission_id,
        reconciled=reconciled,
        promoted=promoted,
        assigned=tuple(assigned),
        completed=completed,
        state_changed=decision.completed,
        new_state=decision.mission.state if decision.completed else None,
    )
