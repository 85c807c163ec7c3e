"""Scheduler, reviewer gate and submissions against a real Redis (missions.md §5, §6, §11)."""

from __future__ import annotations

from datetime import timedelta

import attrs

from tinytown.mission.binding import FIX_TAG, REVIEW_TAG, WORK_TAG
from tinytown.mission.store import MissionStore
from tinytown.mission.submission import Gates, Outcome
from tinytown.mission.tick import tick_missions
from tinytown.models import AgentState, TaskState
from tinytown.models.mission import (
    MissionPolicy,
    MissionRun,
    MissionState,
    WatchKind,
    WatchStatus,
    WorkKind,
    WorkStatus,
)
from tinytown.services import missions, tasks
from tinytown.town import Town

from .conftest import T0, AddAgent
from .helpers import inbox_task_ids, make_mission, tasks_tagged

PR = "https://github.com/acme/widgets/pull/42"


async def test_tick_creates_a_tagged_persisted_task_and_message(town: Town,
                                                                add_agent: AddAgent) -> None:
    worker = await add_agent("worker-1")
    mission, (item,) = await make_mission(town, T0, ("Build it", WorkKind.IMPLEMENT, None))
    summary = await tick_missions(town, [mission.id], T0)
    assert summary.total_assigned == 1
    (task,) = await tasks_tagged(town, WORK_TAG)
    assert task.tags == [WORK_TAG, "mission-task:work", f"mission:{mission.id}",
                         f"work-item:{item.id}"]
    assert task.description.startswith("[Mission Work Item] Build it\n\nMission: ")
    assert task.state is TaskState.ASSIGNED
    assert task.assigned_to == worker.id
    assert await inbox_task_ids(town, worker.id) == [str(task.id)]
    stored = await MissionStore(town.channel).get_work_item(mission.id, item.id)
    assert stored is not None
    assert (stored.status, stored.assigned_to) == (WorkStatus.ASSIGNED, worker.id)


async def test_implement_work_goes_to_backend_not_tester(town: Town, add_agent: AddAgent) -> None:
    await add_agent("tester")
    backend = await add_agent("backend-worker")
    mission, _ = await make_mission(town, T0, ("Implement auth", WorkKind.IMPLEMENT, "backend"))
    await tick_missions(town, [mission.id], T0)
    (task,) = await tasks_tagged(town, WORK_TAG)
    assert task.assigned_to == backend.id


async def test_review_work_goes_to_review_role_alias(town: Town, add_agent: AddAgent) -> None:
    await add_agent("worker-a")
    reviewer = await add_agent("quality", role="review")
    mission, _ = await make_mission(town, T0, ("Review auth", WorkKind.REVIEW, "reviewer"))
    await tick_missions(town, [mission.id], T0)
    (task,) = await tasks_tagged(town, WORK_TAG)
    assert task.assigned_to == reviewer.id


async def test_backend_review_work_still_goes_to_audit_lane(town: Town,
                                                            add_agent: AddAgent) -> None:
    await add_agent("backend-dev", role="backend")
    auditor = await add_agent("sec", role="audit")
    mission, _ = await make_mission(town, T0, ("Review the API", WorkKind.REVIEW, "backend"))
    await tick_missions(town, [mission.id], T0)
    (task,) = await tasks_tagged(town, WORK_TAG)
    assert task.assigned_to == auditor.id


async def test_parallelism_limit_and_no_idle_agent(town: Town, add_agent: AddAgent) -> None:
    await add_agent("worker-1")
    await add_agent("worker-2", state=AgentState.WORKING)
    mission, _ = await make_mission(
        town, T0, *[(f"Item {n}", WorkKind.IMPLEMENT, None) for n in range(3)],
        policy=MissionPolicy(max_parallel_items=2))
    summary = await tick_missions(town, [mission.id], T0)
    # One idle agent takes both free slots (60, then 60 - 30), never a third item.
    assert summary.total_assigned == 2
    assert len(await tasks_tagged(town, WORK_TAG)) == 2


async def test_submitting_a_pr_creates_four_watches_and_one_review_task(
    town: Town, add_agent: AddAgent
) -> None:
    worker = await add_agent("backend-worker")
    reviewer = await add_agent("reviewer")
    mission, (_item,) = await make_mission(town, T0, ("Implement auth", WorkKind.IMPLEMENT, None))
    await tick_missions(town, [mission.id], T0)
    (work,) = await tasks_tagged(town, WORK_TAG)
    assert work.assigned_to == worker.id
    done = await tasks.complete(town, str(work.id), f"Opened {PR}", now=T0)
    assert done.mission is not None
    assert done.mission.outcome is Outcome.WAITING_FOR_REVIEW
    watches = await MissionStore(town.channel).list_watches(mission.id)
    assert sorted(w.kind for w in watches) == sorted(WatchKind)
    assert {w.target_ref for w in watches} == {PR}
    (review,) = await tasks_tagged(town, REVIEW_TAG)
    assert review.assigned_to == reviewer.id
    assert f"Latest PR/ref: Opened {PR}" in review.description
    # Completing the same task again submits nothing twice.
    again = await tasks.complete(town, str(work.id), f"Opened {PR}", now=T0)
    assert again.mission is None
    assert len(await tasks_tagged(town, REVIEW_TAG)) == 1
    assert len(await MissionStore(town.channel).list_watches(mission.id)) == 4


async def test_reviewer_approval_with_no_watches_completes_the_item(
    town: Town, add_agent: AddAgent
) -> None:
    await add_agent("backend-worker")
    await add_agent("reviewer")
    mission, (item,) = await make_mission(town, T0, ("Implement auth", WorkKind.IMPLEMENT, None))
    await tick_missions(town, [mission.id], T0)
    (work,) = await tasks_tagged(town, WORK_TAG)
    first = await tasks.complete(town, str(work.id), "done, no PR", now=T0)
    assert first.mission is not None
    assert first.mission.outcome is Outcome.WAITING_FOR_REVIEW
    (review,) = await tasks_tagged(town, REVIEW_TAG)
    approved = await tasks.complete(town, str(review.id), "approved: looks good", now=T0)
    assert approved.mission is not None
    assert approved.mission.outcome is Outcome.COMPLETED
    stored = await MissionStore(town.channel).get_work_item(mission.id, item.id)
    assert stored is not None
    assert stored.status is WorkStatus.DONE
    assert stored.reviewer_approved
    m = await missions.require(town, str(mission.id))
    assert m.state is MissionState.COMPLETED
    assert await MissionStore(town.channel).active_ids() == []


async def test_rejection_opens_one_fix_task_for_the_worker(town: Town,
                                                           add_agent: AddAgent) -> None:
    worker = await add_agent("backend-worker")
    await add_agent("reviewer")
    mission, (item,) = await make_mission(town, T0, ("Implement auth", WorkKind.IMPLEMENT, None))
    await tick_missions(town, [mission.id], T0)
    (work,) = await tasks_tagged(town, WORK_TAG)
    await tasks.complete(town, str(work.id), "done", now=T0)
    (review,) = await tasks_tagged(town, REVIEW_TAG)
    out = await tasks.complete(town, str(review.id), "Rejected: missing tests", now=T0)
    assert out.mission is not None
    assert out.mission.outcome is Outcome.WAITING_FOR_EXTERNAL
    (fix,) = await tasks_tagged(town, FIX_TAG)
    assert fix.assigned_to == worker.id
    assert "Reason: Rejected: missing tests" in fix.description
    gates = Gates(town, T0)
    await gates.request_changes(mission.id, item.id, "again")
    assert len(await tasks_tagged(town, FIX_TAG)) == 1


async def test_blocked_item_follows_a_live_fix_task_of_another_agent(
    town: Town, add_agent: AddAgent
) -> None:
    old = await add_agent("worker-old")
    new = await add_agent("worker-new", state=AgentState.WORKING)
    mission, (item,) = await make_mission(town, T0, ("Fix it", WorkKind.IMPLEMENT, None),
                                          status=WorkStatus.BLOCKED)
    store = MissionStore(town.channel)
    await store.save_work_items([attrs.evolve(item, assigned_to=old.id,
                                              artifact_refs=["task:x"])])
    fix = await town.assign(new.id, "fix", tags=[FIX_TAG, f"mission:{mission.id}",
                                                 f"work-item:{item.id}"])
    await town.channel.set_task(fix.started(T0))
    result = (await tick_missions(town, [mission.id], T0)).results[0]
    assert result.reconciled == 1
    stored = await store.get_work_item(mission.id, item.id)
    assert stored is not None
    assert (stored.assigned_to, stored.status) == (new.id, WorkStatus.RUNNING)
    log = await store.recent_log(mission.id, 5)
    assert any(f"Rebound work item 'Fix it' to live mission task owner {new.id}" in x for x in log)


async def test_running_item_with_artifacts_is_not_finalized(town: Town,
                                                            add_agent: AddAgent) -> None:
    worker = await add_agent("worker-1", state=AgentState.WORKING)
    mission, (item,) = await make_mission(town, T0, ("Docs", WorkKind.DESIGN, None),
                                          status=WorkStatus.RUNNING)
    store = MissionStore(town.channel)
    await store.save_work_items([attrs.evolve(item, assigned_to=worker.id,
                                              artifact_refs=["task:1"])])
    await tick_missions(town, [mission.id], T0)
    stored = await store.get_work_item(mission.id, item.id)
    assert stored is not None
    assert stored.status is WorkStatus.RUNNING


async def test_stale_assignee_is_released(town: Town, add_agent: AddAgent) -> None:
    gone = await add_agent("worker-gone", state=AgentState.STOPPED)
    mission, (item,) = await make_mission(town, T0, ("Work", WorkKind.IMPLEMENT, None),
                                          status=WorkStatus.ASSIGNED)
    store = MissionStore(town.channel)
    await store.save_work_items([attrs.evolve(item, assigned_to=gone.id)])
    await tick_missions(town, [mission.id], T0)
    stored = await store.get_work_item(mission.id, item.id)
    assert stored is not None
    assert (stored.status, stored.assigned_to) == (WorkStatus.READY, None)


async def test_dependencies_promote_only_after_done(town: Town) -> None:
    mission, (first, second) = await make_mission(
        town, T0, ("First", WorkKind.DESIGN, None), ("Second", WorkKind.DESIGN, None),
        status=WorkStatus.PENDING)
    store = MissionStore(town.channel)
    await store.save_work_items([attrs.evolve(second, depends_on=[first.id])])
    result = (await tick_missions(town, [mission.id], T0)).results[0]
    assert result.promoted == 1
    stored = await store.get_work_item(mission.id, second.id)
    assert stored is not None
    assert stored.status is WorkStatus.PENDING
    m = await missions.require(town, str(mission.id))
    assert m.state is MissionState.RUNNING
    assert m.blocked_reason is None


async def test_waiting_mission_records_reason_and_wake(town: Town) -> None:
    mission, _ = await make_mission(town, T0, ("Wait", WorkKind.DESIGN, None),
                                    status=WorkStatus.BLOCKED)
    await tick_missions(town, [mission.id], T0)
    m = await missions.require(town, str(mission.id))
    assert m.state is MissionState.RUNNING
    assert m.blocked_reason == "Waiting on dependency, review, or external watch"
    assert m.next_wake_at == T0 + timedelta(seconds=30)


async def test_empty_mission_completes(town: Town) -> None:
    """0.10 never completed a mission without work items."""
    mission, _ = await make_mission(town, T0)
    summary = await tick_missions(town, [mission.id], T0)
    assert summary.missions_completed == 1
    assert (await missions.require(town, str(mission.id))).state is MissionState.COMPLETED


async def test_one_broken_mission_does_not_stop_the_others(town: Town,
                                                           add_agent: AddAgent) -> None:
    await add_agent("worker-1")
    bad, _ = await make_mission(town, T0, ("Bad", WorkKind.DESIGN, None))
    good, _ = await make_mission(town, T0, ("Good", WorkKind.DESIGN, None))
    await town.redis.execute("HSET", town.channel.keys.mission_watch(bad.id), "x", "{bad")
    await town.redis.execute("SET", town.channel.keys.mission(bad.id), "not json")
    summary = await tick_missions(town, [bad.id, good.id], T0)
    bad_result, good_result = summary.results
    assert bad_result.error is not None
    assert "Corrupt record" in bad_result.error
    assert len(good_result.assigned) == 1


async def test_watch_status_in_listing_after_submission_is_active(
    town: Town, add_agent: AddAgent
) -> None:
    await add_agent("worker-1")
    mission, (_item,) = await make_mission(town, T0, ("Docs", WorkKind.DESIGN, None))
    await tick_missions(town, [mission.id], T0)
    (work,) = await tasks_tagged(town, WORK_TAG)
    out = await tasks.complete(town, str(work.id), "acme/widgets#7", now=T0)
    assert out.mission is not None
    assert out.mission.outcome is Outcome.WAITING_FOR_EXTERNAL
    watches = await MissionStore(town.channel).list_watches(mission.id)
    assert {w.status for w in watches} == {WatchStatus.ACTIVE}
    assert {w.next_due_at for w in watches} == {T0}


async def test_a_completion_that_bypassed_the_hook_is_recovered(town: Town,
                                                                add_agent: AddAgent) -> None:
    """E.g. the task was completed by another tool on the shared town, or the hook crashed."""
    worker = await add_agent("worker-1")
    mission, (item,) = await make_mission(town, T0, ("Docs", WorkKind.DESIGN, None))
    await tick_missions(town, [mission.id], T0)
    (work,) = await tasks_tagged(town, WORK_TAG)
    await town.channel.set_task(work.completed("see acme/widgets#9", T0))  # no hook ran
    store = MissionStore(town.channel)
    # Within the grace period the hook may still be running: nothing is done twice.
    await tick_missions(town, [mission.id], T0 + timedelta(seconds=30))
    got = await store.get_work_item(mission.id, item.id)
    assert got is not None
    assert got.status is WorkStatus.ASSIGNED
    await tick_missions(town, [mission.id], T0 + timedelta(seconds=61))
    got = await store.get_work_item(mission.id, item.id)
    assert got is not None
    assert got.status is WorkStatus.BLOCKED
    assert got.assigned_to == worker.id
    assert f"task:{work.id}" in got.artifact_refs
    assert len(await store.list_watches(mission.id)) == 4
    await tick_missions(town, [mission.id], T0 + timedelta(seconds=200))
    assert len(await store.list_watches(mission.id)) == 4
    log = await store.recent_log(mission.id, 20)
    assert sum(f"Recovered the submission of completed task {work.id}" in x for x in log) == 1


async def test_update_mission_never_overwrites_a_concurrent_change(town: Town,
                                                                   redis_url: str) -> None:
    """A decision made on an older read is redone on the fresh record (WATCH/MULTI)."""
    import redis as redis_py

    from tinytown.codec.mission_codec import mission_to_json

    mission, _ = await make_mission(town, T0, ("A", WorkKind.DESIGN, None))
    key = town.channel.keys.mission(mission.id)
    seen: list[MissionState] = []
    other = redis_py.Redis.from_url(redis_url, decode_responses=True)

    def tick_if_running(current: MissionRun) -> MissionRun | None:
        seen.append(current.state)
        if len(seen) == 1:  # `tt mission stop` lands between this read and the write
            other.set(key, mission_to_json(current.blocked("Stopped by user", T0)))
        return current.ticked(T0) if current.state is MissionState.RUNNING else None

    try:
        stored = await MissionStore(town.channel).update_mission(mission.id, tick_if_running)
    finally:
        other.close()
    assert seen == [MissionState.RUNNING, MissionState.BLOCKED]
    assert stored is not None
    assert (stored.state, stored.blocked_reason) == (MissionState.BLOCKED, "Stopped by user")
    again = await MissionStore(town.channel).get_mission(mission.id)
    assert again == stored


async def test_a_review_waits_for_a_reviewer_and_is_never_asked_twice(
    town: Town, add_agent: AddAgent
) -> None:
    """0.10 warned and never retried when no reviewer was idle: the item stayed blocked."""
    await add_agent("backend-worker")
    mission, (item,) = await make_mission(town, T0, ("Implement auth", WorkKind.IMPLEMENT, None))
    await tick_missions(town, [mission.id], T0)
    (work,) = await tasks_tagged(town, WORK_TAG)
    await tasks.complete(town, str(work.id), "done", now=T0)
    assert await tasks_tagged(town, REVIEW_TAG) == []
    reviewer = await add_agent("reviewer", state=AgentState.WORKING)  # busy: queued for later
    await tick_missions(town, [mission.id], T0)
    await tick_missions(town, [mission.id], T0)
    (review,) = await tasks_tagged(town, REVIEW_TAG)
    assert review.assigned_to == reviewer.id
    # A rejection without anyone to fix it does not start a review loop.
    await town.redis.execute("DEL", town.channel.keys.agent(item.assigned_to or work.assigned_to))
    await tasks.complete(town, str(review.id), "rejected: no tests", now=T0)
    await tick_missions(town, [mission.id], T0)
    assert len(await tasks_tagged(town, REVIEW_TAG)) == 1
