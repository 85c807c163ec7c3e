"""The dispatcher with a fake gh: watches, fix tasks, gates, notes (missions.md §7, §8, §11)."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from tinytown.mission.binding import FIX_TAG, WORK_TAG
from tinytown.mission.dispatcher import Dispatcher, retire_help_requests
from tinytown.mission.github import GhCli
from tinytown.mission.store import MissionStore
from tinytown.mission.submission import Gates
from tinytown.models import SUPERVISOR, Agent, AgentState, Message, MessageType, TaskState
from tinytown.models.mission import (
    MissionPolicy,
    MissionRun,
    MissionState,
    WatchKind,
    WatchStatus,
    WorkItem,
    WorkKind,
    WorkStatus,
)
from tinytown.services import missions, tasks
from tinytown.town import Town

from .conftest import T0, AddAgent, FakeGh
from .helpers import make_mission, tasks_tagged

PR = "https://github.com/acme/widgets/pull/42"
BOT = {"id": 7, "user": {"login": "cursor-bugbot[bot]"}, "body": "Bugbot: possible crash"}
CHANGES = {"id": "R_1", "author": {"login": "alice"}, "state": "CHANGES_REQUESTED"}


def dispatcher(town: Town, now: datetime) -> Dispatcher:
    return Dispatcher(town, GhCli(town.root), lambda: now)


async def submitted(town: Town, add_agent: AddAgent, kind: WorkKind = WorkKind.DESIGN,
                    policy: MissionPolicy | None = None) -> tuple[MissionRun, WorkItem]:
    """A mission whose one item, assigned to ``worker``, was submitted with PR #42."""
    worker = await add_agent("backend-worker", state=AgentState.WORKING)
    mission, (item,) = await make_mission(town, T0, ("Ship it", kind, None), policy=policy,
                                          status=WorkStatus.ASSIGNED)
    store = MissionStore(town.channel)
    await store.save_work_items([attrs.evolve(item, assigned_to=worker.id)])
    await Gates(town, T0).record_submission(mission.id, item.id, ["task:x", f"PR {PR}"])
    got = await store.get_work_item(mission.id, item.id)
    assert got is not None
    return mission, got


async def watch_states(town: Town, mission: MissionRun) -> dict[WatchKind, WatchStatus]:
    return {w.kind: w.status for w in await MissionStore(town.channel).list_watches(mission.id)}


async def test_failing_checks_create_one_fix_task_and_reassign(
    town: Town, add_agent: AddAgent, fake_gh: FakeGh
) -> None:
    mission, item = await submitted(town, add_agent)
    fake_gh.pr(42, "FAILURE")
    result = await dispatcher(town, T0).tick()
    assert result.watches.processed == 4
    assert result.watches.triggered == 1
    (fix,) = await tasks_tagged(town, FIX_TAG)
    assert fix.assigned_to == item.assigned_to
    assert fix.description.startswith("[Mission Fix Required] Ship it\n\nWatch type: PrChecks")
    assert (await watch_states(town, mission))[WatchKind.PR_CHECKS] is WatchStatus.SNOOZED
    got = await MissionStore(town.channel).get_work_item(mission.id, item.id)
    assert got is not None
    assert got.status is WorkStatus.ASSIGNED
    # 0.10 opened another fix task every 180 s while the check kept failing.
    later = await dispatcher(town, T0 + timedelta(seconds=181)).tick()
    assert later.watches.triggered == 1
    assert len(await tasks_tagged(town, FIX_TAG)) == 1


async def test_green_checks_finish_an_ungated_item_and_the_mission_in_one_tick(
    town: Town, add_agent: AddAgent, fake_gh: FakeGh
) -> None:
    mission, item = await submitted(town, add_agent)
    fake_gh.pr(42, "SUCCESS")
    result = await dispatcher(town, T0).tick()
    assert set((await watch_states(town, mission)).values()) == {WatchStatus.DONE}
    got = await MissionStore(town.channel).get_work_item(mission.id, item.id)
    assert got is not None
    assert got.status is WorkStatus.DONE
    assert result.scheduler.missions_completed == 1
    assert (await missions.require(town, str(mission.id))).state is MissionState.COMPLETED


async def test_comment_watches_snooze_when_triggered_then_resolve(
    town: Town, add_agent: AddAgent, fake_gh: FakeGh
) -> None:
    mission, _ = await submitted(town, add_agent)
    fake_gh.pr(42, "PENDING", reviews=[CHANGES])
    fake_gh.comments(42, [BOT])
    await dispatcher(town, T0).tick()
    states = await watch_states(town, mission)
    assert states[WatchKind.BUGBOT_COMMENTS] is WatchStatus.SNOOZED
    assert states[WatchKind.REVIEW_COMMENTS] is WatchStatus.SNOOZED
    assert states[WatchKind.PR_CHECKS] is WatchStatus.ACTIVE
    assert len(await tasks_tagged(town, FIX_TAG)) == 1  # one live fix task for the item
    # Not due yet: nothing is checked.
    early = await dispatcher(town, T0 + timedelta(seconds=100)).tick()
    assert early.watches.processed == 0
    # Comments cleared and checks green: the snoozed watches are re-checked and finish.
    fake_gh.pr(42, "SUCCESS")
    fake_gh.comments(42, [])
    await dispatcher(town, T0 + timedelta(seconds=181)).tick()
    assert set((await watch_states(town, mission)).values()) == {WatchStatus.DONE}


async def test_old_review_comments_do_not_open_a_second_fix_task(
    town: Town, add_agent: AddAgent, fake_gh: FakeGh
) -> None:
    mission, _item = await submitted(town, add_agent)
    fake_gh.pr(42, "SUCCESS", reviews=[CHANGES])
    await dispatcher(town, T0).tick()
    (fix,) = await tasks_tagged(town, FIX_TAG)
    # The worker fixes it and resubmits the same PR; the old review stays on the PR.
    await tasks.complete(town, str(fix.id), f"fixed in {PR}", now=T0 + timedelta(seconds=10))
    await dispatcher(town, T0 + timedelta(seconds=20)).tick()
    assert len(await tasks_tagged(town, FIX_TAG)) == 1
    assert set((await watch_states(town, mission)).values()) == {WatchStatus.DONE}


async def test_mergeable_and_green_never_bypass_the_reviewer_gate(
    town: Town, add_agent: AddAgent, fake_gh: FakeGh
) -> None:
    mission, item = await submitted(town, add_agent, WorkKind.IMPLEMENT)
    fake_gh.pr(42, "SUCCESS")
    await dispatcher(town, T0).tick()
    assert (await watch_states(town, mission))[WatchKind.MERGEABILITY] is WatchStatus.DONE
    got = await MissionStore(town.channel).get_work_item(mission.id, item.id)
    assert got is not None
    assert got.status is WorkStatus.BLOCKED
    assert (await missions.require(town, str(mission.id))).state is MissionState.RUNNING


async def test_unparsable_target_is_left_for_the_next_tick(
    town: Town, add_agent: AddAgent, fake_gh: FakeGh
) -> None:
    mission, _item = await submitted(town, add_agent)
    store = MissionStore(town.channel)
    (watch, *_) = await store.list_watches(mission.id)
    await store.save_watches([attrs.evolve(watch, target_ref="nonsense")])
    fake_gh.pr(42, "PENDING")
    result = await dispatcher(town, T0).tick()
    errors = [r.error for r in result.watches.results if r.error]
    assert errors == ["Invalid PR reference: nonsense"]
    again = [w for w in await store.list_watches(mission.id) if w.id == watch.id]
    assert again[0].last_check_at is None


async def test_help_request_when_ready_work_has_no_idle_agent(town: Town,
                                                              add_agent: AddAgent) -> None:
    await add_agent("busy", state=AgentState.WORKING)
    mission, _ = await make_mission(town, T0, ("Work", WorkKind.IMPLEMENT, None))
    await dispatcher(town, T0).tick()
    queries = [m for m in await town.channel.peek(SUPERVISOR)
               if isinstance(m.kind, MessageType.Query)]
    assert len(queries) == 1
    assert queries[0].kind.question.startswith(f"[Mission Help Needed] Mission {mission.id}\n\n"
                                               f"Mission {mission.id} has 1 ready work item(s)")
    assert (await missions.require(town, str(mission.id))).dispatcher_help_request_attempts == 1
    await dispatcher(town, T0 + timedelta(seconds=30)).tick()
    assert len(await town.channel.peek(SUPERVISOR)) == 1
    assert (await missions.require(town, str(mission.id))).dispatcher_help_request_attempts == 1


async def test_retiring_help_requests_removes_only_that_missions_queries(town: Town) -> None:
    a, _ = await make_mission(town, T0)
    b, _ = await make_mission(town, T0)
    texts = [f"[Mission Help Needed] Mission {a.id}\n\nx", "unrelated question",
             f"[Mission Help Needed] Mission {b.id}\n\ny"]
    for text in texts:
        await town.channel.send(Message(from_=SUPERVISOR, to=SUPERVISOR,
                                        kind=MessageType.Query(question=text)))
    assert await retire_help_requests(town, a.id) == 1
    left = [m.kind.question for m in await town.channel.peek(SUPERVISOR)
            if isinstance(m.kind, MessageType.Query)]
    assert left == texts[1:]


async def test_resume_note_unblocks_and_force_completes_watches(
    town: Town, add_agent: AddAgent, fake_gh: FakeGh
) -> None:
    mission, _ = await submitted(town, add_agent)
    store = MissionStore(town.channel)
    await store.save_mission(mission.blocked("Stopped by user", T0))
    await missions.note(town, str(mission.id), "resume and retry now", now=T0)
    fake_gh.pr(42, "PENDING")
    result = await dispatcher(town, T0).tick()
    assert result.claimed == (mission.id,)
    m = await missions.require(town, str(mission.id))
    assert m.dispatcher_last_progress_at == T0
    assert set((await watch_states(town, mission)).values()) == {WatchStatus.DONE}
    assert m.state in (MissionState.RUNNING, MissionState.COMPLETED)
    (note,) = await store.list_controls(mission.id)
    assert note.processed_at == T0
    log = await store.recent_log(mission.id, 20)
    assert any("Dispatcher received resume directive from conductor: resume and retry now "
               "(force-completed 4 blocking watch(es))" in line for line in log)


async def test_resume_ignored_for_failed_and_pause_ignored_for_blocked(town: Town) -> None:
    failed, _ = await make_mission(town, T0, ("A", WorkKind.DESIGN, None))
    blocked, _ = await make_mission(town, T0, ("B", WorkKind.DESIGN, None))
    store = MissionStore(town.channel)
    await store.save_mission(failed.failed("boom", T0))
    await store.save_mission(blocked.blocked("why", T0))
    await missions.note(town, str(failed.id), "resume please", now=T0)
    await missions.note(town, str(blocked.id), "pause for now", now=T0)
    d = dispatcher(town, T0)
    await d.tick(failed.id)
    await d.tick(blocked.id)
    assert (await missions.require(town, str(failed.id))).state is MissionState.FAILED
    still = await missions.require(town, str(blocked.id))
    assert (still.state, still.blocked_reason) == (MissionState.BLOCKED, "why")
    log = await store.recent_log(failed.id, 5)
    assert any("ignored resume directive from conductor while mission was Failed" in x
               for x in log)


async def test_pause_note_blocks_a_running_mission(town: Town) -> None:
    mission, _ = await make_mission(town, T0, ("A", WorkKind.DESIGN, None))
    await missions.note(town, str(mission.id), "hold on", now=T0)
    await dispatcher(town, T0).tick()
    m = await missions.require(town, str(mission.id))
    assert (m.state, m.blocked_reason) == (MissionState.BLOCKED, "Paused by conductor: hold on")
    assert mission.id in await MissionStore(town.channel).active_ids()


async def test_redirect_note_rebinds_the_item_and_supersedes_the_old_task(
    town: Town, add_agent: AddAgent
) -> None:
    old = await add_agent("worker-old")
    new = await add_agent("worker-new", state=AgentState.WORKING)
    mission, (item,) = await make_mission(town, T0, ("Build", WorkKind.DESIGN, None))
    await dispatcher(town, T0).tick()
    (first,) = await tasks_tagged(town, WORK_TAG)
    assert first.assigned_to == old.id
    await missions.note(town, str(mission.id), f"redirect {item.id.short} to worker-new "
                                               "because old is slow", now=T0)
    await dispatcher(town, T0).tick()
    cancelled = await town.channel.get_task(first.id)
    assert cancelled is not None
    assert cancelled.state is TaskState.CANCELLED
    assert cancelled.result == (
        "Superseded by dispatcher redirect to worker-new (because old is slow)")
    live = [t for t in await tasks_tagged(town, WORK_TAG) if not t.is_terminal]
    assert [t.assigned_to for t in live] == [new.id]
    assert live[0].description.startswith("[Mission Redirect] Build")
    got = await MissionStore(town.channel).get_work_item(mission.id, item.id)
    assert got is not None
    assert got.assigned_to == new.id


async def test_redirect_without_items_or_with_an_ambiguous_agent_is_only_logged(
    town: Town, add_agent: AddAgent
) -> None:
    """0.10 aborted the whole tick on an ambiguous agent reference."""
    for _ in range(2):  # two live records with one name: written directly, as a race could
        await town.channel.set_agent(attrs.evolve(Agent.new("twin", "demo", T0),
                                                  state=AgentState.IDLE))
    empty, _ = await make_mission(town, T0)
    await missions.note(town, str(empty.id), "redirect to twin-a", now=T0)
    two, (x, _) = await make_mission(town, T0, ("X", WorkKind.DESIGN, None),
                                     ("Y", WorkKind.DESIGN, None))
    await missions.note(town, str(two.id), f"reassign {x.id} to twin", now=T0)
    d = dispatcher(town, T0)
    await d.tick(empty.id)
    await d.tick(two.id)
    store = MissionStore(town.channel)
    assert any("could not resolve work item" in x for x in await store.recent_log(empty.id, 5))
    assert any(f"Dispatcher ignored redirect directive from conductor: ambiguous agent 'twin' "
               f"in 'reassign {x.id} to twin'" in line
               for line in await store.recent_log(two.id, 10))


async def test_lease_is_exclusive_and_only_its_owner_releases_it(town: Town) -> None:
    mission, _ = await make_mission(town, T0, ("A", WorkKind.DESIGN, None))
    store = MissionStore(town.channel)
    assert await store.acquire_lease(mission.id, "other-host")
    lock = town.channel.keys.mission_dispatch_lock(mission.id)
    assert 0 < await town.redis.execute("TTL", lock) <= 90
    result = await dispatcher(town, T0).tick()
    assert result.claimed == ()
    assert not await store.release_lease(mission.id, "not-the-owner")
    assert await town.redis.execute("GET", lock) == "other-host"
    assert await store.release_lease(mission.id, "other-host")
    result = await dispatcher(town, T0).tick()
    assert result.claimed == (mission.id,)
    assert await town.redis.execute("EXISTS", lock) == 0


async def test_a_broken_mission_is_blocked_with_the_reason_and_the_others_go_on(
    town: Town, add_agent: AddAgent
) -> None:
    await add_agent("worker-1")
    bad, _ = await make_mission(town, T0, ("Bad", WorkKind.DESIGN, None))
    good, _ = await make_mission(town, T0, ("Good", WorkKind.DESIGN, None))
    work_key = town.channel.keys.mission_work(bad.id)
    await town.redis.execute("DEL", work_key)
    await town.redis.execute("SET", work_key, "not a hash")
    result = await dispatcher(town, T0).tick()
    assert set(result.claimed) == {bad.id, good.id}
    assert [m for m, _ in result.errors] == [bad.id]
    broken = await missions.require(town, str(bad.id))
    assert broken.state is MissionState.BLOCKED
    assert broken.blocked_reason is not None
    assert broken.blocked_reason.startswith("Dispatcher error: ")
    assert "WRONGTYPE" in broken.blocked_reason
    assert len(await tasks_tagged(town, WORK_TAG, f"mission:{good.id}")) == 1
