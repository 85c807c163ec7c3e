"""The mission dispatcher (missions.md §7): leases, operator notes, watches, scheduler, help.

One :meth:`Dispatcher.tick` claims each candidate mission with a lease
(``SET NX EX``; released by compare-and-delete), applies its pending notes,
checks its due watches, runs the scheduler over it and asks the conductor for
help when it is stuck. :meth:`Dispatcher.run` ticks every 30 s until cancelled;
the town's runtime hosts it, ``tt mission dispatch`` runs it in a terminal.

Unlike 0.10, a failure inside one mission blocks that mission with the
reason and the others go on; a failure of the whole tick (Redis gone) is
logged and the loop keeps going.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

import attrs
import trio

from tinytown.mission import directives as d
from tinytown.mission.github import GitHubClient
from tinytown.mission.store import MissionStore
from tinytown.mission.tick import TickSummary, tick_missions
from tinytown.mission.watch import WatchEngine, WatchSummary
from tinytown.models import SUPERVISOR, Agent, Message, MessageType, Task
from tinytown.models.mission import MissionId, MissionRun, MissionState, WatchStatus

if TYPE_CHECKING:
    from tinytown.town import Town

log = logging.getLogger("tinytown.mission")

Clock = Callable[[], datetime]
RELEASE_TIMEOUT_S: Final = 5.0
MIN_INTERVAL_S: Final = 0.1


@attrs.frozen
class DispatchResult:
    claimed: tuple[MissionId, ...]
    watches: WatchSummary
    scheduler: TickSummary
    help_sent: tuple[MissionId, ...] = ()
    errors: tuple[tuple[MissionId, str], ...] = ()

    @property
    def summary_line(self) -> str:
        return (f"🛰️  Dispatcher tick: claimed {len(self.claimed)} mission(s), processed "
                f"{self.watches.processed} watch(es), promoted {self.scheduler.total_promoted}, "
                f"assigned {self.scheduler.total_assigned}")


async def retire_help_requests(town: Town, mission_id: MissionId) -> int:
    """Remove this mission's pending help queries from the conductor inbox; how many."""
    marker = f"{d.HELP_MARKER} {mission_id}"
    raw = await town.channel.raw_queue(SUPERVISOR)
    stale = [item for item in raw if marker in item]
    return await town.channel.remove_queued(SUPERVISOR, stale) if stale else 0


class Dispatcher:
    """Ticks missions; one instance = one lease owner token."""

    def __init__(self, town: Town, github: GitHubClient, clock: Clock) -> None:
        self.town = town
        self.github = github
        self.clock = clock
        self.token = str(uuid.uuid4())
        self.store = MissionStore(town.channel)

    async def run(self, *, run: MissionId | None = None,
                  interval_s: float = d.DISPATCH_INTERVAL_S,
                  on_tick: Callable[[DispatchResult | Exception], None] | None = None,
                  task_status: trio.TaskStatus[Dispatcher] = trio.TASK_STATUS_IGNORED) -> None:
        """Tick every ``interval_s`` until cancelled; never ends on an error.

        ``on_tick`` sees each tick's result, or the error that ended it.
        """
        task_status.started(self)
        while True:
            outcome: DispatchResult | Exception
            try:
                outcome = await self.tick(run)
            except Exception as exc:
                log.warning("Mission dispatcher tick failed: %s", exc)
                outcome = exc
            if on_tick is not None:
                on_tick(outcome)
            await trio.sleep(max(MIN_INTERVAL_S, interval_s))

    async def tick(self, run: MissionId | None = None) -> DispatchResult:
        candidates = [run] if run is not None else await self.store.active_ids()
        claimed = [m for m in candidates if await self.store.acquire_lease(m, self.token)]
        try:
            return await self._tick_claimed(claimed)
        finally:
            with trio.move_on_after(RELEASE_TIMEOUT_S) as scope:
                scope.shield = True
                for mid in claimed:
                    await self.store.release_lease(mid, self.token)

    async def _tick_claimed(self, claimed: list[MissionId]) -> DispatchResult:
        now = self.clock()
        if not claimed:  # the common case in a runtime: nothing to read at all
            return DispatchResult((), WatchSummary(), TickSummary(()))
        errors: dict[MissionId, str] = {}
        noted: set[MissionId] = set()
        for mid in claimed:
            try:
                if await self.apply_notes(mid, now):
                    noted.add(mid)
            except Exception as exc:
                errors[mid] = f"operator notes: {exc}"
        tasks = await self.town.channel.list_tasks()
        watches = await WatchEngine(self.town, self.github, now).run(claimed, tasks)
        sched = await tick_missions(self.town, claimed, now, tasks=tasks)
        errors.update({r.mission_id: r.error for r in sched.results if r.error})
        agents = await self.town.channel.list_agents()
        helped = []
        for mid in claimed:
            try:
                if await self._after_tick(mid, now, noted, watches, sched, agents, tasks,
                                          errors.get(mid)):
                    helped.append(mid)
            except Exception as exc:
                log.warning("Mission %s: dispatcher bookkeeping failed: %s", mid, exc)
                errors.setdefault(mid, str(exc))
        return DispatchResult(tuple(claimed), watches, sched, tuple(helped),
                              tuple(errors.items()))

    async def _after_tick(self, mid: MissionId, now: datetime, noted: set[MissionId],
                          watches: WatchSummary, sched: TickSummary, agents: Sequence[Agent],
                          tasks: list[Task], error: str | None) -> bool:
        mission = await self.store.get_mission(mid)
        if mission is None:
            return False
        if error is not None and not mission.state.is_terminal:
            why = f"Dispatcher error: {error}"
            # First, before anything else can fail the same way.
            await self.store.update_mission(
                mid, lambda cur: None if cur.state.is_terminal else cur.blocked(why, now))
            await self.store.log(mid, f"Mission blocked: {why}", now)
            mission = await self.store.get_mission(mid) or mission
        progress = mid in noted or any(
            r.mission_id == mid and r.made_progress for r in sched.results
        ) or any(w.triggered or w.new_status not in (None, WatchStatus.ACTIVE)
                 for w in watches.for_mission(mid))
        if progress:
            mission = mission.progressed(now)
        items = await self.store.list_work_items(mid)
        watch_items = await self.store.list_watches(mid)
        reason = d.help_reason(mission, items, agents, tasks, watch_items, now)
        sent = reason is not None and d.should_send_help(mission, reason, now)
        if sent and reason is not None:
            await self.town.channel.send(Message(
                from_=SUPERVISOR, to=SUPERVISOR,
                kind=MessageType.Query(question=d.help_text(mission, reason))))
            await self.store.log(mid, f"Dispatcher asked conductor for help: {reason}", now)

        def record(cur: MissionRun) -> MissionRun:
            cur = cur.progressed(now) if progress else cur.ticked(now)
            return cur.help_requested(reason, now) if sent and reason is not None else cur

        await self.store.update_mission(mid, record)
        return sent

    # --- operator notes ----------------------------------------------------------------------

    async def apply_notes(self, mid: MissionId, now: datetime) -> bool:
        """Process pending notes oldest first; True if any made progress."""
        mission = await self.store.get_mission(mid)
        if mission is None:
            return False
        progress = False
        for note in [n for n in await self.store.list_controls(mid) if n.is_pending]:
            body = note.body.strip()
            directive = d.parse_directive(body)
            decided, moved, text = await self._apply(mission, directive, note.sender, body, now)
            if decided is not mission:
                stored = await self.store.update_mission(
                    mid, functools.partial(_merge_state, base=mission, decided=decided))
                mission = stored or decided
            progress = progress or moved
            await self.store.log(mid, text, now)
            await self.store.save_controls([attrs.evolve(note, processed_at=now)])
        return progress

    async def _apply(self, mission: MissionRun, directive: d.Directive, sender: str, body: str,
                     now: datetime) -> tuple[MissionRun, bool, str]:
        state = mission.state.label
        if isinstance(directive, d.Resume):
            if mission.state is not MissionState.BLOCKED:
                return mission, False, (f"Dispatcher ignored resume directive from {sender} "
                                        f"while mission was {state}: {body}")
            open_watches = [w for w in await self.store.list_watches(mission.id)
                            if w.status is not WatchStatus.DONE]
            await self.store.save_watches(w.completed() for w in open_watches)
            await self.store.activate(mission.id)
            extra = (f" (force-completed {len(open_watches)} blocking watch(es))"
                     if open_watches else "")
            return (mission.started(now), True,
                    f"Dispatcher received resume directive from {sender}: {body}{extra}")
        if isinstance(directive, d.Pause):
            if mission.state is not MissionState.RUNNING:
                return mission, False, (f"Dispatcher ignored pause directive from {sender} "
                                        f"while mission was {state}: {body}")
            return (mission.blocked(f"Paused by {sender}: {body}", now), True,
                    f"Dispatcher received pause directive from {sender}: {body}")
        if isinstance(directive, d.Redirect):
            return await self._redirect(mission, directive, sender, body, now)
        return mission, False, f"Dispatcher received operator note from {sender}: {body}"

    async def _redirect(self, mission: MissionRun, r: d.Redirect, sender: str, body: str,
                        now: datetime) -> tuple[MissionRun, bool, str]:
        from tinytown.errors import AgentNotFoundError, AmbiguousAgentError
        from tinytown.mission.redirect import redirect_item

        ignored = f"Dispatcher ignored redirect directive from {sender}"
        item = d.resolve_item(r.item_ref, await self.store.list_work_items(mission.id))
        if item is None:
            return mission, False, f"{ignored}: could not resolve work item in '{body}'"
        try:
            _, agent = await self.town.resolve(r.agent_ref)
        except AgentNotFoundError:
            return mission, False, f"{ignored}: unknown agent '{r.agent_ref}' in '{body}'"
        except AmbiguousAgentError:
            # 0.10 aborted the whole tick here.
            return mission, False, f"{ignored}: ambiguous agent '{r.agent_ref}' in '{body}'"
        if agent is None or not await redirect_item(self.town, mission, item, agent, r.reason,
                                                    now):
            return mission, False, f"{ignored}: failed to redirect '{body}'"
        if mission.state is MissionState.BLOCKED:
            mission = mission.started(now)
        return (mission, True,
                f"Dispatcher redirected work item {item.id} to {r.agent_ref} from {sender}")


def _merge_state(current: MissionRun, base: MissionRun, decided: MissionRun) -> MissionRun | None:
    """Apply a directive's state change to the stored record, unless its state moved meanwhile."""
    if current.state is not base.state:
        return None
    return attrs.evolve(current, state=decided.state, blocked_reason=decided.blocked_reason,
                        next_wake_at=decided.next_wake_at, updated_at=decided.updated_at)
