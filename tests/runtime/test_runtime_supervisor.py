"""The supervisor, with fake actors on Trio's MockClock (autojump: no real waiting)."""

from __future__ import annotations

import errno

import attrs
import pytest
import trio
import trio.testing

from tinytown.models import AgentId
from tinytown.runtime.settings import RuntimeSettings
from tinytown.runtime.supervisor import Supervisor, describe

SETTINGS = RuntimeSettings(restart_backoff_s=1.0, restart_backoff_max_s=30.0, restart_budget=3,
                           restart_window_s=1000.0)


@attrs.define
class Script:
    """How the fake actors of one agent behave, run after run."""

    crashes: int = 0
    forever: bool = False
    starts: list[float] = attrs.field(factory=list)
    wakes: int = 0
    cancelled: int = 0
    read_at_end: bool = True
    out_of_files: bool = False


class FakeActor:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.last_read = float("-inf")

    async def run(self) -> str:
        s = self.script
        s.starts.append(trio.current_time())
        self.last_read = trio.current_time()
        try:
            if len(s.starts) <= s.crashes:
                await trio.sleep(0.5)
                if s.out_of_files:
                    cause = OSError(errno.EMFILE, "Too many open files")
                    raise RuntimeError(f"cannot connect {len(s.starts)}") from cause
                raise RuntimeError(f"boom {len(s.starts)}")
            if s.forever:
                await trio.sleep_forever()
            await trio.sleep(1)
            if s.read_at_end:
                self.last_read = trio.current_time()
            return "done"
        except trio.Cancelled:
            s.cancelled += 1
            raise

    def wake(self) -> None:
        self.script.wakes += 1


@attrs.define
class Harness:
    scripts: dict[AgentId, Script]
    gave_up: list[tuple[AgentId, str]] = attrs.field(factory=list)
    idle: int = 0

    def make(self, agent_id: AgentId) -> FakeActor:
        return FakeActor(self.scripts[agent_id])

    async def give_up(self, agent_id: AgentId, exc: BaseException) -> None:
        self.gave_up.append((agent_id, describe(exc)))

    def on_idle(self) -> None:
        self.idle += 1

    def supervisor(self) -> Supervisor:
        return Supervisor(self.make, self.give_up, SETTINGS, on_idle=self.on_idle)


async def test_a_crashing_actor_restarts_with_exponential_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    a = AgentId.new()
    h = Harness({a: Script(crashes=3)})
    sup = h.supervisor()
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        t0 = trio.current_time()
        assert sup.start(a)
        await trio.sleep(100)
        nursery.cancel_scope.cancel()
    starts = [t - t0 for t in h.scripts[a].starts]
    # runs crash after 0.5 s; restarts wait 1, 2, 4 s
    assert starts == pytest.approx([0.0, 1.5, 4.0, 8.5])
    assert h.gave_up == []
    assert h.idle == 1
    assert len(sup) == 0


async def test_the_budget_spent_the_agent_is_given_up(
    autojump_clock: trio.testing.MockClock,
) -> None:
    a = AgentId.new()
    h = Harness({a: Script(crashes=100)})
    sup = h.supervisor()
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        sup.start(a)
        await trio.sleep(1000)
        nursery.cancel_scope.cancel()
    assert len(h.scripts[a].starts) == 4  # the first run and 3 restarts
    assert h.gave_up == [(a, "RuntimeError: boom 4")]
    assert a not in sup.running


async def test_a_crash_never_disturbs_another_actor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    bad, good = AgentId.new(), AgentId.new()
    h = Harness({bad: Script(crashes=100), good: Script(forever=True)})
    sup = h.supervisor()
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        sup.start(good)
        sup.start(bad)
        await trio.sleep(1000)
        assert sup.running == {good}
        assert len(h.scripts[good].starts) == 1
        assert h.scripts[good].cancelled == 0
        nursery.cancel_scope.cancel()
    assert h.scripts[good].cancelled == 1  # cancellation reaches actors, and is not swallowed
    assert [g[0] for g in h.gave_up] == [bad]


async def test_exception_groups_count_as_crashes(autojump_clock: trio.testing.MockClock) -> None:
    a = AgentId.new()

    class GroupActor(FakeActor):
        async def run(self) -> str:
            self.script.starts.append(trio.current_time())
            async with trio.open_nursery() as n:
                n.start_soon(trio.sleep_forever)
                raise ValueError("inside a nursery")

    h = Harness({a: Script()})
    sup = Supervisor(lambda aid: GroupActor(h.scripts[aid]), h.give_up, SETTINGS)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        sup.start(a)
        await trio.sleep(1000)
        nursery.cancel_scope.cancel()
    assert len(h.scripts[a].starts) == 4
    assert h.gave_up == [(a, "ValueError: inside a nursery")]


async def test_start_while_running_wakes_and_restarts_only_if_not_seen(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen, unseen = AgentId.new(), AgentId.new()
    h = Harness({seen: Script(read_at_end=True), unseen: Script(read_at_end=False)})
    sup = h.supervisor()
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        for aid in (seen, unseen):
            assert sup.start(aid)
        await trio.sleep(0.5)
        for aid in (seen, unseen):
            assert not sup.start(aid)  # running: woken instead
        await trio.sleep(10)
        nursery.cancel_scope.cancel()
    assert h.scripts[seen].wakes == 1
    assert len(h.scripts[seen].starts) == 1  # it read its record after the start: done
    assert len(h.scripts[unseen].starts) == 2  # it never re-read: started again


def test_describe_uses_the_first_leaf() -> None:
    group = ExceptionGroup("g", [KeyError("k"), ValueError("v")])
    assert describe(group) == "KeyError: 'k'"
    assert describe(RuntimeError()) == "RuntimeError"


async def test_running_out_of_open_files_is_temporary_never_an_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    a = AgentId.new()
    h = Harness({a: Script(crashes=20, out_of_files=True)})  # far past the budget of 3
    sup = h.supervisor()
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        sup.start(a)
        await trio.sleep(1000)
        nursery.cancel_scope.cancel()
    assert len(h.scripts[a].starts) == 21  # retried each time, then ran normally
    assert h.gave_up == []
