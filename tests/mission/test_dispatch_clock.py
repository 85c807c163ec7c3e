"""The dispatcher loop on Trio's MockClock: interval, resilience, help backoff, snooze, retries.

Mission time is the mock clock's (``T0 + trio.current_time()``); nothing sleeps for real.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
import pytest
import trio
import trio.testing

from tinytown.mission.dispatcher import Dispatcher, DispatchResult
from tinytown.mission.github import CheckStatus, Comment, GhCli, PrStatus, Review
from tinytown.mission.store import MissionStore
from tinytown.mission.submission import Gates
from tinytown.models import SUPERVISOR, AgentState, MessageType
from tinytown.models.mission import (
    MissionRun,
    WatchKind,
    WatchStatus,
    WorkItem,
    WorkKind,
    WorkStatus,
)
from tinytown.town import Town

from .conftest import T0, AddAgent, FakeGh
from .helpers import make_mission

PR = "https://github.com/acme/widgets/pull/42"
Ticks = trio.MemoryReceiveChannel[DispatchResult | Exception]


def mock_now() -> datetime:
    return T0 + timedelta(seconds=trio.current_time())


async def start_loop(nursery: trio.Nursery, town: Town) -> Ticks:
    send, receive = trio.open_memory_channel[DispatchResult | Exception](100)
    dispatcher = Dispatcher(town, GhCli(town.root), mock_now)
    await nursery.start(lambda task_status: dispatcher.run(on_tick=send.send_nowait,
                                                           task_status=task_status))
    return receive


async def next_tick(ticks: Ticks, clock: trio.testing.MockClock, seconds: float
                    ) -> DispatchResult | Exception:
    clock.jump(seconds)
    return await ticks.receive()


async def help_queries(town: Town) -> int:
    return sum(1 for m in await town.channel.peek(SUPERVISOR)
               if isinstance(m.kind, MessageType.Query))


async def test_loop_ticks_every_30s_and_survives_a_failing_tick(
    town: Town, mock_clock: trio.testing.MockClock
) -> None:
    mission, _ = await make_mission(town, T0, ("A", WorkKind.DESIGN, None))
    async with trio.open_nursery() as nursery:
        ticks = await start_loop(nursery, town)
        first = await ticks.receive()
        assert isinstance(first, DispatchResult)
        assert first.claimed == (mission.id,)
        # Nothing happens before the interval is over.
        mock_clock.jump(29)
        await trio.testing.wait_all_tasks_blocked()
        assert ticks.statistics().current_buffer_used == 0
        # The active set becomes unreadable: that tick fails, the loop goes on.
        active = town.channel.keys.mission_active
        await town.redis.execute("DEL", active)
        await town.redis.execute("SET", active, "oops")
        failed = await next_tick(ticks, mock_clock, 1)
        assert isinstance(failed, Exception)
        await town.redis.execute("DEL", active)
        await town.redis.execute("SADD", active, mission.id.text)
        recovered = await next_tick(ticks, mock_clock, 30)
        assert isinstance(recovered, DispatchResult)
        assert recovered.claimed == (mission.id,)
        nursery.cancel_scope.cancel()


async def test_help_repeats_back_off(
    town: Town, add_agent: AddAgent, mock_clock: trio.testing.MockClock
) -> None:
    await add_agent("busy", state=AgentState.WORKING)
    mission, _ = await make_mission(town, T0, ("Work", WorkKind.IMPLEMENT, None))
    store = MissionStore(town.channel)
    async with trio.open_nursery() as nursery:
        ticks = await start_loop(nursery, town)
        await ticks.receive()
        assert await help_queries(town) == 1
        sent_at = [0]
        # The loop ticks every 30 s at most; each jump is one tick.
        for seconds in (1800, 1790, 30, 7180, 30, 14370, 30):
            result = await next_tick(ticks, mock_clock, seconds)
            assert isinstance(result, DispatchResult)
            if result.help_sent:
                sent_at.append(int(trio.current_time()))
        # First repeat after 3600 s (attempts 1), then 7200 s, then the 8x cap of 14400 s.
        assert sent_at == [0, 3620, 3620 + 7210, 3620 + 7210 + 14400]
        m = await store.get_mission(mission.id)
        assert m is not None
        assert m.dispatcher_help_request_attempts == 4
        nursery.cancel_scope.cancel()


async def _submitted(town: Town, add_agent: AddAgent) -> tuple[MissionRun, WorkItem]:
    worker = await add_agent("backend-worker", state=AgentState.WORKING)
    mission, (item,) = await make_mission(town, T0, ("Ship", WorkKind.DESIGN, None),
                                          status=WorkStatus.ASSIGNED)
    store = MissionStore(town.channel)
    await store.save_work_items([attrs.evolve(item, assigned_to=worker.id)])
    await Gates(town, mock_now()).record_submission(mission.id, item.id, [PR])
    return mission, item


async def _pr_watch(town: Town, mission: MissionRun) -> tuple[WatchStatus, int, datetime]:
    (w,) = [w for w in await MissionStore(town.channel).list_watches(mission.id)
            if w.kind is WatchKind.PR_CHECKS]
    return w.status, w.consecutive_failures, w.next_due_at


async def test_snoozed_watch_is_rechecked_exactly_when_due(
    town: Town, add_agent: AddAgent, fake_gh: FakeGh, mock_clock: trio.testing.MockClock
) -> None:
    mission, _ = await _submitted(town, add_agent)
    fake_gh.pr(42, "FAILURE")
    d = Dispatcher(town, GhCli(town.root), mock_now)
    await d.tick()
    status, _, due = await _pr_watch(town, mission)
    assert (status, due) == (WatchStatus.SNOOZED, T0 + timedelta(seconds=180))
    mock_clock.jump(179)
    early = await d.tick()
    assert all(r.watch.kind is not WatchKind.PR_CHECKS for r in early.watches.results)
    mock_clock.jump(1)
    fake_gh.pr(42, "SUCCESS")
    due_now = await d.tick()
    assert any(r.watch.kind is WatchKind.PR_CHECKS and r.new_status is WatchStatus.DONE
               for r in due_now.watches.results)


@pytest.mark.parametrize("stderr", ["HTTP 502: Bad Gateway", "gh auth login required"])
async def test_failed_checks_back_off_and_block_after_five(
    town: Town, add_agent: AddAgent, fake_gh: FakeGh, mock_clock: trio.testing.MockClock,
    stderr: str,
) -> None:
    mission, item = await _submitted(town, add_agent)
    for argv in ("pr view 42 --repo acme/widgets --json "
                 "statusCheckRollup,mergeable,reviewDecision,reviews",
                 "pr view 42 --repo acme/widgets --json reviews,reviewDecision",
                 "api repos/acme/widgets/issues/42/comments"):
        fake_gh.fail(argv, stderr)
    d = Dispatcher(town, GhCli(town.root), mock_now)
    delays = []
    for _ in range(5):
        before = trio.current_time()
        await d.tick()
        _, _failures, due = await _pr_watch(town, mission)
        delays.append((due - mock_now()).total_seconds())
        mock_clock.jump((due - T0).total_seconds() - before)
    assert delays == [60, 120, 300, 300, 300]
    store = MissionStore(town.channel)
    got = await store.get_work_item(mission.id, item.id)
    assert got is not None
    assert got.status is WorkStatus.BLOCKED
    log = await store.recent_log(mission.id, 30)
    assert any(f"Work item 'Ship' blocked: Watch check failed: gh command failed: {stderr}"
               in line for line in log)
    queries = [m.kind.question for m in await town.channel.peek(SUPERVISOR)
               if isinstance(m.kind, MessageType.Query)]
    assert len(queries) == 1
    assert f"cannot check {PR}: 5 GitHub checks failed in a row" in queries[0]


@attrs.define
class GateGitHub:
    """An in-process :class:`GitHubClient` whose PR status waits for the test's go-ahead."""

    entered: trio.Event = attrs.field(factory=trio.Event)
    go: trio.Event = attrs.field(factory=trio.Event)

    async def issue(self, ref: object) -> tuple[str, str]:
        raise AssertionError("not used")

    async def pr_status(self, pr: object) -> PrStatus:
        self.entered.set()
        await self.go.wait()
        return PrStatus(checks=CheckStatus.PENDING, mergeable=False)

    async def pr_reviews(self, pr: object) -> list[Review]:
        return []

    async def issue_comments(self, pr: object) -> list[Comment]:
        return []


async def test_a_held_lease_keeps_a_second_dispatcher_out_until_released(
    town: Town, add_agent: AddAgent, mock_clock: trio.testing.MockClock
) -> None:
    mission, _ = await _submitted(town, add_agent)
    github = GateGitHub()
    first = Dispatcher(town, github, mock_now)
    open_gate = GateGitHub()
    open_gate.go.set()
    second = Dispatcher(town, open_gate, mock_now)
    lock = town.channel.keys.mission_dispatch_lock(mission.id)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(first.tick)
        await github.entered.wait()  # first is inside its tick, holding the lease
        assert await town.redis.execute("GET", lock) == first.token
        busy = await second.tick()
        assert busy.claimed == ()
        github.go.set()
    assert await town.redis.execute("EXISTS", lock) == 0  # compare-and-delete released it
    mock_clock.jump(180)
    free = await second.tick()
    assert free.claimed == (mission.id,)
