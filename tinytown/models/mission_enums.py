"""Mission mode enumerations (missions.md §2.1), spelled as stored on the wire.

``label`` is the PascalCase form 0.10 prints (the Rust enum's ``Debug``).
"""

from __future__ import annotations

import enum


class _Labelled(enum.StrEnum):
    """Wire value plus the PascalCase label 0.10 prints (``Debug`` of the Rust enum)."""

    @property
    def label(self) -> str:
        return "".join(part.capitalize() for part in self.value.split("_"))


class MissionState(_Labelled):
    PLANNING = "planning"
    RUNNING = "running"
    BLOCKED = "blocked"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (MissionState.COMPLETED, MissionState.FAILED)


class WorkKind(_Labelled):
    DESIGN = "design"
    IMPLEMENT = "implement"
    TEST = "test"
    REVIEW = "review"
    MERGEGATE = "mergegate"
    FOLLOWUP = "followup"

    @property
    def label(self) -> str:
        return "MergeGate" if self is WorkKind.MERGEGATE else super().label

    @classmethod
    def parse(cls, text: str) -> WorkKind | None:
        """A kind from user/manifest text: accepts ``merge_gate`` and any case; None if unknown."""
        clean = text.strip().lower().replace("-", "_")
        if clean == "merge_gate":
            return cls.MERGEGATE
        try:
            return cls(clean)
        except ValueError:
            return None


class WorkStatus(_Labelled):
    PENDING = "pending"
    READY = "ready"
    ASSIGNED = "assigned"
    RUNNING = "running"
    BLOCKED = "blocked"
    DONE = "done"


class WatchKind(_Labelled):
    PR_CHECKS = "pr_checks"
    BUGBOT_COMMENTS = "bugbot_comments"
    REVIEW_COMMENTS = "review_comments"
    MERGEABILITY = "mergeability"


class WatchStatus(_Labelled):
    ACTIVE = "active"
    SNOOZED = "snoozed"
    DONE = "done"


class TriggerAction(_Labelled):
    CREATE_FIX_TASK = "create_fix_task"
    NOTIFY_REVIEWER = "notify_reviewer"
    ADVANCE_PIPELINE = "advance_pipeline"
