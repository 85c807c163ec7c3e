"""Task operations: assign, complete, cancel, show, list and "current task" (cli.md §5.1, §5.5).

Completing a task updates the task and its assignee in one transaction: the
assignee's ``tasks_completed`` grows exactly once per task, however many
times or from however many places the task is completed. A completed or
cancelled task also leaves the backlog, and its pending ``task_assign``
leaves the assignee's queues and processing list, in the same transaction —
so the work is never shown to a model again. A task that already ended is
never changed: completing it twice keeps the first result and time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

import attrs

from tinytown.codec import hash_ts, pairs_to_dict, task_from_hash
from tinytown.errors import AgentNotFoundError, InvalidInputError, TaskNotFoundError
from tinytown.models import Agent, AgentId, Event, EventType, Task, TaskId, TaskState
from tinytown.models.fencing import RoundToken
from tinytown.redis.pipeline import Transaction
from tinytown.scripts import CREDIT_ASSIGNEE, DROP_ASSIGNMENTS
from tinytown.services._txn import (
    assigned_event,
    queue_assignment,
    queue_task_write,
    resolve_task_id,
    run_watched,
)
from tinytown.services.fencing import check_in
from tinytown.town import Town, utcnow

if TYPE_CHECKING:
    from tinytown.mission.submission import SyncResult

DEFAULT_RESULT: Final = "Completed"
DEFAULT_CANCEL_REASON: Final = "Cancelled"
NO_CONTEXT: Final = (
    "No current agent context found. Pass an agent name/id or run this from an agent loop."
)
VALID_STATES: Final = ", ".join(s.value for s in TaskState)

@attrs.frozen
class Assignment:
    """A task just assigned, with the agent it went to (``agent`` is None for the supervisor)."""

    task: Task
    agent_id: AgentId
    agent: Agent | None


@attrs.frozen
class Completion:
    """What ``complete`` did.

    Attributes:
        task: The task as stored now.
        was_terminal: It was already completed/failed/cancelled (nothing was counted).
        agent: The assignee's record as it was read (None if unassigned or gone).
        cleared_current: The assignee's ``current_task`` pointed at it and was cleared.
        tasks_completed: The assignee's counter afterwards (None without an assignee record).
        mission: What completing a mission task did to its work item (None otherwise).
        mission_error: Why that mission sync failed (the task itself stays completed).
    """

    task: Task
    was_terminal: bool
    agent: Agent | None
    cleared_current: bool
    tasks_completed: int | None
    mission: SyncResult | None = None
    mission_error: str | None = None


@attrs.frozen
class TaskView:
    """A task and the record of its assignee, if any."""

    task: Task
    assignee: Agent | None


@attrs.frozen
class CurrentTask:
    """The agent an operation resolved to and its current task (None when there is none)."""

    agent_id: AgentId
    agent: Agent | None
    task: Task | None


# --- pure decisions --------------------------------------------------------------------


def parse_state(text: str) -> TaskState:
    """A task state from user text (case-insensitive); InvalidInputError naming the valid ones."""
    try:
        return TaskState(text.strip().lower())
    except ValueError:
        raise InvalidInputError(f"Unknown state filter: {text}. Valid: {VALID_STATES}") from None


def pick_current_task(
    pointer: TaskId | None, pointed: Task | None, assigned: Sequence[Task]
) -> Task | None:
    """agent-loop.md §5.2: the pointed task if there is a pointer, else the only live one."""
    if pointer is not None:
        return pointed
    live = [t for t in assigned if not t.is_terminal]
    return live[0] if len(live) == 1 else None


def filter_tasks(
    tasks: Sequence[Task], state: TaskState | None = None, assignee: AgentId | None = None
) -> list[Task]:
    """Tasks in ``state`` and/or assigned to ``assignee`` (None: no filter)."""
    return [
        t
        for t in tasks
        if (state is None or t.state is state) and (assignee is None or t.assigned_to == assignee)
    ]


# --- services -------------------------------------------------------------------------


async def assign(
    town: Town, agent_ref: str, description: str | Task, *, tags: Sequence[str] = ()
) -> Assignment:
    """Create a task for an agent and queue its ``task_assign`` message, atomically.

    ``description`` may also be a :class:`Task` made beforehand (``Task.new(...)``):
    its id, tags and parent are kept.

    Raises:
        AgentNotFoundError: No agent matches ``agent_ref``.
        InvalidInputError: The description is blank.
        TypeError: ``description`` is neither a string nor a Task.
    """
    now = utcnow()
    if isinstance(description, Task):
        base = attrs.evolve(description, tags=[*description.tags, *tags])
    elif isinstance(description, str):
        base = Task.new(description, now, tags=list(tags))
    else:
        raise TypeError(f"assign() takes a description (str) or a Task, "
                        f"got {type(description).__name__}")
    if not base.description.strip():
        raise InvalidInputError("Task description must not be empty")
    agent_id, agent = await town.resolve(agent_ref)
    task = base.assigned(agent_id, now)
    pipe = town.redis.pipeline(transaction=True)
    queue_assignment(pipe, town.channel.keys, task)
    await pipe.execute()
    await town.channel.emit(assigned_event(task, agent_id, now))
    return Assignment(task=task, agent_id=agent_id, agent=agent)


async def complete(
    town: Town,
    task_id: str,
    result: str = DEFAULT_RESULT,
    *,
    now: datetime | None = None,
    fence: RoundToken | None = None,
) -> Completion:
    """Mark a task completed and credit its assignee (pointer cleared, counter) (cli.md §5.5).

    A task that already ended is left as it is (``was_terminal``). With
    ``fence`` (the caller's model round), the completion happens only if that
    round is still the agent's round in progress, checked in the same
    transaction.

    Raises:
        InvalidInputError: ``task_id`` is not a UUID.
        TaskNotFoundError: There is no such task.
        FencedError: ``fence`` names a superseded round.
    """
    tid = await resolve_task_id(town, task_id)
    done = await _finish(town, tid, result, TaskState.COMPLETED, now, fence)
    if done.was_terminal or not any(t.startswith("mission:") for t in done.task.tags):
        return done
    return await _sync_mission(town, done, now)


async def _sync_mission(town: Town, done: Completion, now: datetime | None) -> Completion:
    """Feed a completed mission task into its work item (missions.md §6.3), for every surface.

    Only the first completion feeds it: completing twice submits once.
    """
    from tinytown.errors import TinytownError
    from tinytown.mission.submission import sync_completed_task

    try:
        synced = await sync_completed_task(town, done.task, now or utcnow())
    except TinytownError as exc:
        return attrs.evolve(done, mission_error=str(exc))
    return attrs.evolve(done, mission=synced)


async def cancel(
    town: Town, task_id: str, reason: str = DEFAULT_CANCEL_REASON, *, now: datetime | None = None
) -> Completion:
    """Cancel a task (result = reason), clearing the assignee's pointer; nothing is counted."""
    tid = await resolve_task_id(town, task_id)
    return await _finish(town, tid, reason, TaskState.CANCELLED, now)


async def fail(town: Town, task_id: str, error: str, *, now: datetime | None = None
               ) -> Completion:
    """Mark a task Failed (result = error), clearing the assignee's pointer; nothing is counted."""
    tid = await resolve_task_id(town, task_id)
    return await _finish(town, tid, error, TaskState.FAILED, now)


async def _finish(
    town: Town, tid: TaskId, text: str, state: TaskState, now: datetime | None,
    fence: RoundToken | None = None,
) -> Completion:
    keys = town.channel.keys
    key = keys.task(tid)
    when = now or utcnow()
    watched = [key] if fence is None else [key, keys.agent(fence.agent_id)]

    async def body(tx: Transaction) -> tuple[Task, Task, list[int] | None]:
        if fence is not None:
            await check_in(tx, keys.agent(fence.agent_id), fence)
        fields = pairs_to_dict(await tx.execute("HGETALL", key))
        if not fields:
            raise TaskNotFoundError(str(tid))
        before = task_from_hash(fields, key)
        if before.is_terminal:
            return before, before, None
        if state is TaskState.COMPLETED:
            after = before.completed(text, when)
        elif state is TaskState.FAILED:
            after = before.failed(text, when)
        else:
            after = before.cancelled(text, when)
        count = state is TaskState.COMPLETED
        pipe = tx.pipeline(transaction=True)
        queue_task_write(pipe, keys, after)
        # A finished task is no longer unassigned work: claiming it would revive it.
        pipe.cmd("LREM", keys.backlog, 0, str(tid))
        if after.assigned_to is not None:
            aid = after.assigned_to
            DROP_ASSIGNMENTS.queue(pipe, [keys.inbox(aid), keys.urgent(aid), keys.processing(aid),
                                          keys.inflight_urgent(aid)], [str(tid)])
            CREDIT_ASSIGNEE.queue(
                pipe,
                [keys.agent(after.assigned_to)],
                [str(tid), hash_ts(when), "1" if count else "0"],
            )
        replies = await pipe.execute()
        credit = replies[-1] if after.assigned_to is not None else None
        return before, after, credit

    before, after, credit = await run_watched(town.redis, watched, body)
    agent = None
    if after.assigned_to is not None and not after.assigned_to.is_supervisor:
        agent = await town.channel.get_agent(after.assigned_to)
    if state is TaskState.COMPLETED and not before.is_terminal:
        await town.channel.emit(_completed_event(after, when))
    if before.is_terminal:  # nothing was written
        return Completion(task=after, was_terminal=True, agent=agent, cleared_current=False,
                          tasks_completed=agent.tasks_completed if agent is not None else None)
    has_agent = bool(credit and credit[0])
    return Completion(
        task=after,
        was_terminal=False,
        agent=agent if has_agent else None,
        cleared_current=bool(credit and credit[1]),
        tasks_completed=int(credit[2]) if credit and has_agent else None,
    )


async def show(town: Town, task_id: str) -> TaskView:
    """One task and its assignee's record.

    Raises:
        InvalidInputError: ``task_id`` is not a UUID.
        TaskNotFoundError: There is no such task.
    """
    task = await town.channel.require_task(await resolve_task_id(town, task_id))
    assignee = None
    if task.assigned_to is not None and not task.assigned_to.is_supervisor:
        assignee = await town.channel.get_agent(task.assigned_to)
    return TaskView(task=task, assignee=assignee)


@attrs.frozen
class TaskListing:
    """Tasks (oldest first) and every agent record, to name assignees."""

    tasks: list[Task]
    agents: dict[AgentId, Agent]
    total: int


async def list_tasks(
    town: Town, state: str | TaskState | None = None, assignee: AgentId | None = None
) -> TaskListing:
    """Every task, optionally only those in ``state`` / assigned to ``assignee``.

    Costs four round trips whatever the number of tasks and agents.

    Raises:
        InvalidInputError: ``state`` is not a task state.
    """
    wanted = parse_state(state) if isinstance(state, str) else state
    tasks = await town.channel.list_tasks()
    agents = {a.id: a for a in await town.channel.list_agents()}
    return TaskListing(tasks=filter_tasks(tasks, wanted, assignee), agents=agents, total=len(tasks))


async def resolve_agent_context(
    town: Town,
    agent_ref: str | None,
    *,
    env_agent_id: str | None = None,
    env_agent_name: str | None = None,
) -> tuple[AgentId, Agent | None]:
    """The agent ``tt task current`` talks about (cli.md §5.5).

    Explicit reference first; else ``TINYTOWN_AGENT_ID`` naming an existing
    agent; else ``TINYTOWN_AGENT_NAME`` resolved as a reference.

    Raises:
        AgentNotFoundError: Nothing names an agent.
    """
    if agent_ref is not None and agent_ref.strip():
        return await town.resolve(agent_ref)
    if env_agent_id and env_agent_id.strip():
        try:
            aid = AgentId.parse(env_agent_id)
        except InvalidInputError:
            aid = None
        if aid is not None:
            agent = await town.channel.get_agent(aid)
            if agent is not None:
                return aid, agent
    if env_agent_name and env_agent_name.strip():
        return await town.resolve(env_agent_name)
    raise AgentNotFoundError(NO_CONTEXT)


async def current(
    town: Town,
    agent_ref: str | None = None,
    *,
    env_agent_id: str | None = None,
    env_agent_name: str | None = None,
) -> CurrentTask:
    """The current task of an agent (agent-loop.md §5.2)."""
    aid, agent = await resolve_agent_context(
        town, agent_ref, env_agent_id=env_agent_id, env_agent_name=env_agent_name
    )
    pointer = agent.current_task if agent is not None else None
    if pointer is not None:
        pointed = await town.channel.get_task(pointer)
        return CurrentTask(aid, agent, pick_current_task(pointer, pointed, []))
    mine = filter_tasks(await town.channel.list_tasks(), assignee=aid)
    return CurrentTask(aid, agent, pick_current_task(None, None, mine))


def _completed_event(task: Task, now: datetime) -> Event:
    first = task.description.splitlines()[0] if task.description else ""
    return Event(
        event_type=EventType.TASK_COMPLETED,
        message=f"Task completed: {first[:80]}",
        timestamp=now,
        agent_id=None
        if task.assigned_to is None or task.assigned_to.is_supervisor
        else task.assigned_to,
        task_id=str(task.id),
    )
