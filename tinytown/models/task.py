"""Tasks: units of work, and their (unguarded, as 0.10) transitions."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from tinytown.models.enums import TaskState
from tinytown.models.ids import AgentId, TaskId


@attrs.define
class Task:
    """A task record (``tt:<town>:task:<id>``, a Redis hash)."""

    id: TaskId
    description: str
    created_at: datetime
    updated_at: datetime
    state: TaskState = TaskState.PENDING
    assigned_to: AgentId | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    result: str | None = None
    parent_id: TaskId | None = None
    tags: list[str] = attrs.field(factory=list)

    @classmethod
    def new(
        cls,
        description: str,
        now: datetime | None = None,
        *,
        tags: list[str] | None = None,
        parent_id: TaskId | None = None,
    ) -> Task:
        """A new pending task (``Task.new("Fix the login bug")``, as in the book).

        Raises:
            TypeError: ``description`` is not a string.
        """
        if not isinstance(description, str):
            raise TypeError(
                "Task.new() takes the task's description as a str, "
                f"got {type(description).__name__}"
            )
        now = datetime.now(UTC) if now is None else now
        return cls(
            id=TaskId.new(),
            description=description,
            created_at=now,
            updated_at=now,
            tags=list(tags or []),
            parent_id=parent_id,
        )

    # Transitions return a changed copy; the effects follow data-model §4.4 exactly.

    def assigned(self, agent: AgentId, now: datetime) -> Task:
        return attrs.evolve(self, assigned_to=agent, state=TaskState.ASSIGNED, updated_at=now)

    def started(self, now: datetime) -> Task:
        return attrs.evolve(self, state=TaskState.RUNNING, started_at=now, updated_at=now)

    def completed(self, result: str, now: datetime) -> Task:
        return self._ended(TaskState.COMPLETED, result, now)

    def failed(self, error: str, now: datetime) -> Task:
        return self._ended(TaskState.FAILED, error, now)

    def cancelled(self, reason: str, now: datetime) -> Task:
        return self._ended(TaskState.CANCELLED, reason, now)

    def requeued(self, now: datetime) -> Task:
        return attrs.evolve(
            self, state=TaskState.PENDING, assigned_to=None, started_at=None, updated_at=now
        )

    def _ended(self, state: TaskState, text: str, now: datetime) -> Task:
        return attrs.evolve(self, state=state, result=text, completed_at=now, updated_at=now)

    @property
    def is_terminal(self) -> bool:
        return self.state.is_terminal

    @property
    def plan_id(self) -> str | None:
        """The ``tasks.toml`` entry id this task came from (tag ``plan:<id>``)."""
        for tag in self.tags:
            if tag.startswith("plan:"):
                return tag[5:]
        return None
