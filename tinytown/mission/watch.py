"""The watch engine: due PR watches are checked on GitHub and acted on (missions.md §8.1).

Differences from 0.10, on purpose:
* A trigger never opens a second fix task while one for the item is live, and
  the same review/bot comments (by id) never open a fix task twice: old
  CHANGES_REQUESTED reviews and bot comments stay on a PR forever, and 0.10
  created a fix task for them every 180 s.
* A result reports the watch's new status (0.10 reported the previous one).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

import attrs

from tinytown.mission.binding import TaskKind, create_task, live_bound, mission_tags
from tinytown.mission.directives import WATCH_FAILURES_FOR_HELP
from tinytown.mission.github import CheckStatus, GitHubClient, GitHubError
from tinytown.mission.refs import PullRef, parse_pr_target
from tinytown.mission.store import MissionStore
from tinytown.models import SUPERVISOR, Message, MessageType, Task
from tinytown.models.mission import (
    MissionId,
    TriggerAction,
    WatchItem,
    WatchKind,
    WatchStatus,
    WorkItem,
    WorkStatus,
)

if TYPE_CHECKING:
    from tinytown.town import Town

log = logging.getLogger("tinytown.mission")

TRIGGER_SNOOZE_S: Final = 180
BLOCK_AFTER_FAILURES: Final = WATCH_FAILURES_FOR_HELP
SIGNATURE_TAG: Final = "watch-signature:"


@attrs.frozen
class Check:
    """What GitHub says about one watch: act on it? is it finished? which findings?"""

    triggered: bool
    complete: bool
    signature: str | None = None


@attrs.frozen
class WatchResult:
    watch: WatchItem
    triggered: bool = False
    new_status: WatchStatus | None = None
    error: str | None = None


@attrs.frozen
class WatchSummary:
    results: tuple[WatchResult, ...] = ()

    @property
    def processed(self) -> int:
        return len(self.results)

    @property
    def triggered(self) -> int:
        return sum(1 for r in self.results if r.triggered)

    @property
    def completed(self) -> int:
        return sum(1 for r in self.results if r.new_status is WatchStatus.DONE)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.error is not None)

    def for_mission(self, mission_id: MissionId) -> list[WatchResult]:
        return [r for r in self.results if r.watch.mission_id == mission_id]


def signature(keys: Sequence[str]) -> str | None:
    """A short stable digest of the findings that triggered a watch (None: no findings)."""
    if not keys:
        return None
    digest = hashlib.sha1("\n".join(sorted(keys)).encode(), usedforsecurity=False)
    return digest.hexdigest()[:16]


async def check_watch(github: GitHubClient, watch: WatchItem, pr: PullRef) -> Check:
    """The kind's rule (missions.md §8.1 table)."""
    if watch.kind is WatchKind.PR_CHECKS:
        checks = (await github.pr_status(pr)).checks
        return Check(checks is CheckStatus.FAILURE, checks is CheckStatus.SUCCESS)
    if watch.kind is WatchKind.MERGEABILITY:
        status = await github.pr_status(pr)
        green = status.mergeable and status.checks is CheckStatus.SUCCESS
        return Check(green, green)
    if watch.kind is WatchKind.BUGBOT_COMMENTS:
        found = [c.key for c in await github.issue_comments(pr) if c.is_bot]
    else:
        found = [r.key for r in await github.pr_reviews(pr) if r.changes_requested]
    if found:
        return Check(True, False, signature(found))
    checks = (await github.pr_status(pr)).checks
    return Check(False, checks is CheckStatus.SUCCESS)


def already_handled(tasks: Sequence[Task], watch: WatchItem, sig: str | None) -> bool:
    """A fix task for exactly these findings of this watch exists (in any state)."""
    if sig is None:
        return False
    want = {f"watch:{watch.id}", f"{SIGNATURE_TAG}{sig}"}
    return any(want <= set(t.tags) for t in tasks)


class WatchEngine:
    """Checks the due watches of some missions."""

    def __init__(self, town: Town, github: GitHubClient, now: datetime) -> None:
        self.town = town
        self.store = MissionStore(town.channel)
        self.github = github
        self.now = now

    async def run(self, mission_ids: Sequence[MissionId], tasks: list[Task]) -> WatchSummary:
        results: list[WatchResult] = []
        for mid in mission_ids:
            for watch in await self.store.list_watches(mid):
                if not watch.is_due(self.now):
                    continue
                try:
                    results.append(await self.process(watch, tasks))
                except Exception as exc:
                    log.warning("Watch %s failed: %s", watch.id, exc)
                    results.append(WatchResult(watch, error=f"{type(exc).__name__}: {exc}"))
        return WatchSummary(tuple(results))

    async def process(self, watch: WatchItem, tasks: list[Task]) -> WatchResult:
        pr = parse_pr_target(watch.target_ref)
        if pr is None:
            return WatchResult(watch, error=f"Invalid PR reference: {watch.target_ref}")
        try:
            check = await check_watch(self.github, watch, pr)
            if check.triggered and already_handled(tasks, watch, check.signature):
                # These findings were acted on already; judge the PR on its checks alone.
                checks = (await self.github.pr_status(pr)).checks
                check = Check(False, checks is CheckStatus.SUCCESS)
        except GitHubError as exc:
            return await self._failed(watch, str(exc))
        triggered = check.triggered
        if triggered and not (watch.on_trigger is TriggerAction.ADVANCE_PIPELINE
                              and check.complete):
            await self._trigger(watch, check, tasks)
        if check.complete:
            updated = watch.completed()
        elif triggered:
            updated = watch.snoozed(TRIGGER_SNOOZE_S, self.now)
        else:
            updated = watch.checked(self.now)
        await self.store.save_watches([updated])
        return WatchResult(updated, triggered=triggered, new_status=updated.status)

    async def _failed(self, watch: WatchItem, error: str) -> WatchResult:
        updated = watch.check_failed(self.now)
        await self.store.save_watches([updated])
        if updated.consecutive_failures >= BLOCK_AFTER_FAILURES:
            item = await self.store.get_work_item(watch.mission_id, watch.work_item_id)
            if item is not None and not item.is_done:
                await self.store.save_work_items([item.with_status(WorkStatus.BLOCKED, self.now)])
                await self.store.log(watch.mission_id, f"Work item '{item.title}' blocked: "
                                                       f"Watch check failed: {error}", self.now)
        return WatchResult(updated, new_status=updated.status, error=error)

    async def _trigger(self, watch: WatchItem, check: Check, tasks: list[Task]) -> None:
        item = await self.store.get_work_item(watch.mission_id, watch.work_item_id)
        if item is None:
            return
        await self.store.log(watch.mission_id, f"Watch {watch.id} triggered action "
                             f"{watch.on_trigger.label} for {watch.target_ref}", self.now)
        if watch.on_trigger is TriggerAction.CREATE_FIX_TASK:
            await self._fix_task(watch, item, check, tasks)
        elif watch.on_trigger is TriggerAction.NOTIFY_REVIEWER:
            await self._notify_reviewers(watch)
        elif watch.target_ref not in item.artifact_refs:
            await self.store.save_work_items([item.with_artifacts([watch.target_ref], self.now)])
            await self.store.log(watch.mission_id, f"Work item '{item.title}' is eligible for "
                                 "scheduler-driven pipeline advance", self.now)

    async def _fix_task(self, watch: WatchItem, item: WorkItem, check: Check,
                        tasks: list[Task]) -> None:
        if item.assigned_to is None:
            return
        open_fix = live_bound(tasks, watch.mission_id, item.id, TaskKind.FIX)
        if open_fix:
            await self.store.log(watch.mission_id, f"Fix task {open_fix[0].id} for work item "
                                 f"'{item.title}' is still open; no new fix task", self.now)
            return
        tags = mission_tags(TaskKind.FIX, watch.mission_id, item.id, watch_id=watch.id)
        if check.signature is not None:
            tags.append(f"{SIGNATURE_TAG}{check.signature}")
        description = (
            f"[Mission Fix Required] {item.title}\n\nWatch type: {watch.kind.label}\n"
            f"Target: {watch.target_ref}\n\nInvestigate the reported issue, update the branch/PR, "
            "and complete this task with the refreshed PR URL or ref."
        )
        task = await create_task(self.town, item.assigned_to, description, tags, self.now)
        tasks.append(task)
        await self.store.log(watch.mission_id, f"Created fix task {task.id} for work item "
                             f"'{item.title}' due to {watch.kind.label}", self.now)

    async def _notify_reviewers(self, watch: WatchItem) -> None:
        text = (f"[Mission Notification] Watch triggered for {watch.work_item_id}\n\n"
                f"Type: {watch.kind.label}\nTarget: {watch.target_ref}")
        for agent in await self.town.channel.list_agents():
            name = agent.name.lower()
            if "review" in name or "audit" in name:
                await self.town.channel.send(Message(
                    from_=SUPERVISOR, to=agent.id, kind=MessageType.Informational(summary=text)))

