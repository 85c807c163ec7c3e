"""Mission mode records (missions.md §2): missions, work items, watches, control notes.

Values are attrs classes without I/O; transitions return changed copies and
take ``now``, as :class:`tinytown.models.task.Task` does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import attrs

from tinytown.models.ids import AgentId, _Id
from tinytown.models.mission_enums import (
    MissionState,
    TriggerAction,
    WatchKind,
    WatchStatus,
    WorkKind,
    WorkStatus,
)

__all__ = [
    "WATCH_BACKOFF_S",
    "ControlMessage",
    "DocRef",
    "IssueRef",
    "MissionId",
    "MissionPolicy",
    "MissionRun",
    "MissionState",
    "ObjectiveRef",
    "TriggerAction",
    "WatchId",
    "WatchItem",
    "WatchKind",
    "WatchStatus",
    "WorkItem",
    "WorkItemId",
    "WorkKind",
    "WorkStatus",
]

WATCH_BACKOFF_S: Final = (60, 120, 300)
"""Delay after the 1st, 2nd, and 3rd-and-later consecutive failed watch check."""


class MissionId(_Id):
    __slots__ = ()
    _what = "mission"


class WorkItemId(_Id):
    __slots__ = ()
    _what = "work item"


class WatchId(_Id):
    __slots__ = ()
    _what = "watch"


# --- objectives and policy ----------------------------------------------------------


@attrs.frozen
class IssueRef:
    """A GitHub issue objective."""

    owner: str
    repo: str
    number: int

    @property
    def repo_slug(self) -> str:
        return f"{self.owner}/{self.repo}"

    def __str__(self) -> str:
        return f"{self.owner}/{self.repo}#{self.number}"


@attrs.frozen
class DocRef:
    """A document objective (a path, taken verbatim)."""

    path: str

    def __str__(self) -> str:
        return self.path


ObjectiveRef = IssueRef | DocRef


@attrs.frozen
class MissionPolicy:
    max_parallel_items: int = 2
    reviewer_required: bool = True
    auto_merge: bool = False
    watch_interval_secs: int = 180


# --- the mission ---------------------------------------------------------------------


@attrs.define
class MissionRun:
    """A mission (``tt:<town>:mission:<id>``, a JSON string)."""

    id: MissionId
    objective_refs: list[ObjectiveRef]
    created_at: datetime
    updated_at: datetime
    state: MissionState = MissionState.PLANNING
    policy: MissionPolicy = attrs.field(factory=MissionPolicy)
    next_wake_at: datetime | None = None
    blocked_reason: str | None = None
    dispatcher_last_tick_at: datetime | None = None
    dispatcher_last_progress_at: datetime | None = None
    dispatcher_last_help_request_at: datetime | None = None
    dispatcher_last_help_request_reason: str | None = None
    dispatcher_help_request_attempts: int = 0

    @classmethod
    def new(
        cls, objectives: list[ObjectiveRef], now: datetime, policy: MissionPolicy | None = None
    ) -> MissionRun:
        return cls(
            id=MissionId.new(),
            objective_refs=list(objectives),
            created_at=now,
            updated_at=now,
            policy=policy or MissionPolicy(),
        )

    def started(self, now: datetime) -> MissionRun:
        return attrs.evolve(
            self, state=MissionState.RUNNING, next_wake_at=None, blocked_reason=None, updated_at=now
        )

    def blocked(self, reason: str, now: datetime) -> MissionRun:
        return attrs.evolve(self, state=MissionState.BLOCKED, blocked_reason=reason, updated_at=now)

    def completed(self, now: datetime) -> MissionRun:
        return attrs.evolve(
            self,
            state=MissionState.COMPLETED,
            next_wake_at=None,
            blocked_reason=None,
            updated_at=now,
        )

    def failed(self, reason: str, now: datetime) -> MissionRun:
        return attrs.evolve(
            self,
            state=MissionState.FAILED,
            next_wake_at=None,
            blocked_reason=reason,
            updated_at=now,
        )

    def ticked(self, now: datetime) -> MissionRun:
        return attrs.evolve(self, dispatcher_last_tick_at=now, updated_at=now)

    def progressed(self, now: datetime) -> MissionRun:
        return attrs.evolve(
            self,
            dispatcher_last_tick_at=now,
            dispatcher_last_progress_at=now,
            dispatcher_help_request_attempts=0,
            updated_at=now,
        )

    def help_requested(self, reason: str, now: datetime) -> MissionRun:
        changed = reason != self.dispatcher_last_help_request_reason
        attempts = 1 if changed else self.dispatcher_help_request_attempts + 1
        return attrs.evolve(
            self,
            dispatcher_last_help_request_at=now,
            dispatcher_last_help_request_reason=reason,
            dispatcher_help_request_attempts=attempts,
            updated_at=now,
        )

    def help_cleared(self, now: datetime) -> MissionRun:
        return attrs.evolve(
            self,
            dispatcher_last_help_request_at=None,
            dispatcher_last_help_request_reason=None,
            dispatcher_help_request_attempts=0,
            updated_at=now,
        )


# --- work items ------------------------------------------------------------------------


@attrs.define
class WorkItem:
    """One node of a mission's work graph (a field of ``…:mission:<id>:work``)."""

    id: WorkItemId
    mission_id: MissionId
    title: str
    created_at: datetime
    updated_at: datetime
    kind: WorkKind = WorkKind.IMPLEMENT
    depends_on: list[WorkItemId] = attrs.field(factory=list)
    owner_role: str | None = None
    status: WorkStatus = WorkStatus.PENDING
    assigned_to: AgentId | None = None
    artifact_refs: list[str] = attrs.field(factory=list)
    reviewer_approved: bool = False
    source_ref: str | None = None

    @classmethod
    def new(
        cls, mission_id: MissionId, title: str, kind: WorkKind, now: datetime, **extra: object
    ) -> WorkItem:
        return cls(
            id=WorkItemId.new(),
            mission_id=mission_id,
            title=title,
            kind=kind,
            created_at=now,
            updated_at=now,
            **extra,  # type: ignore[arg-type]
        )

    def with_status(self, status: WorkStatus, now: datetime) -> WorkItem:
        return attrs.evolve(self, status=status, updated_at=now)

    def assigned(self, agent: AgentId, now: datetime) -> WorkItem:
        return attrs.evolve(
            self,
            assigned_to=agent,
            status=WorkStatus.ASSIGNED,
            reviewer_approved=False,
            updated_at=now,
        )

    def with_artifacts(self, refs: list[str], now: datetime) -> WorkItem:
        return attrs.evolve(self, artifact_refs=[*self.artifact_refs, *refs], updated_at=now)

    def approved(self, now: datetime) -> WorkItem:
        return attrs.evolve(self, reviewer_approved=True, updated_at=now)

    def unapproved(self, now: datetime) -> WorkItem:
        return attrs.evolve(self, reviewer_approved=False, updated_at=now)

    def done(self, now: datetime, artifacts: list[str] | None = None) -> WorkItem:
        return attrs.evolve(
            self,
            status=WorkStatus.DONE,
            artifact_refs=[*self.artifact_refs, *(artifacts or [])],
            updated_at=now,
        )

    @property
    def is_done(self) -> bool:
        return self.status is WorkStatus.DONE


# --- watches ------------------------------------------------------------------------------


@attrs.define
class WatchItem:
    """A PR monitor of one work item (a field of ``…:mission:<id>:watch``)."""

    id: WatchId
    mission_id: MissionId
    work_item_id: WorkItemId
    kind: WatchKind
    target_ref: str
    interval_secs: int
    next_due_at: datetime
    status: WatchStatus = WatchStatus.ACTIVE
    on_trigger: TriggerAction = TriggerAction.CREATE_FIX_TASK
    last_check_at: datetime | None = None
    consecutive_failures: int = 0

    @classmethod
    def new(
        cls,
        mission_id: MissionId,
        work_item_id: WorkItemId,
        kind: WatchKind,
        target_ref: str,
        interval_secs: int,
        now: datetime,
        on_trigger: TriggerAction = TriggerAction.CREATE_FIX_TASK,
    ) -> WatchItem:
        return cls(
            id=WatchId.new(),
            mission_id=mission_id,
            work_item_id=work_item_id,
            kind=kind,
            target_ref=target_ref,
            interval_secs=interval_secs,
            next_due_at=now,
            on_trigger=on_trigger,
        )

    def is_due(self, now: datetime) -> bool:
        return self.status is not WatchStatus.DONE and now >= self.next_due_at

    def checked(self, now: datetime) -> WatchItem:
        return attrs.evolve(
            self,
            status=WatchStatus.ACTIVE,
            last_check_at=now,
            next_due_at=now + timedelta(seconds=self.interval_secs),
            consecutive_failures=0,
        )

    def check_failed(self, now: datetime) -> WatchItem:
        failures = self.consecutive_failures + 1
        delay = WATCH_BACKOFF_S[min(failures, len(WATCH_BACKOFF_S)) - 1]
        return attrs.evolve(
            self,
            status=WatchStatus.ACTIVE,
            last_check_at=now,
            next_due_at=now + timedelta(seconds=delay),
            consecutive_failures=failures,
        )

    def snoozed(self, seconds: int, now: datetime) -> WatchItem:
        return attrs.evolve(
            self, status=WatchStatus.SNOOZED, next_due_at=now + timedelta(seconds=seconds)
        )

    def completed(self) -> WatchItem:
        return attrs.evolve(self, status=WatchStatus.DONE)

    def reactivated(self, now: datetime, on_trigger: TriggerAction) -> WatchItem:
        return attrs.evolve(
            self,
            status=WatchStatus.ACTIVE,
            next_due_at=now,
            last_check_at=None,
            consecutive_failures=0,
            on_trigger=on_trigger,
        )


# --- operator notes -------------------------------------------------------------------------


@attrs.define
class ControlMessage:
    """An operator note for the dispatcher (a field of ``…:mission:<id>:control``)."""

    id: str
    mission_id: MissionId
    sender: str
    body: str
    created_at: datetime
    processed_at: datetime | None = None

    @property
    def is_pending(self) -> bool:
        return self.processed_at is None
