"""The runtime in-process: supervision, control list, liveness, pause, idle timeout, batches."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from _rt_support import RtTown, rt_town_fixture, set_idle_timeout, until  # noqa: F401

from tinytown.api import Town
from tinytown.models import AgentId, AgentState, MessageType, Task
from tinytown.runtime import actor as actor_module
from tinytown.runtime.agentlog import agent_log_path
from tinytown.runtime.host import Runtime, serve_runtime
from tinytown.runtime.procfiles import runtime_pidfile
from tinytown.runtime.settings import RuntimeSettings
from tinytown.services import agents as agent_service
from tinytown.services import backlog
from tinytown.services.registration import register_agent
from tinytown.town import utcnow

FAST = RuntimeSettings(heartbeat_s=0.1, exit_grace_s=0.2, kill_grace_s=0.3,
                       failed_round_backoff_s=0.01, restart_backoff_s=0.01, restart_budget=2)


@asynccontextmanager
async def running(rt: RtTown, host: str, **kw: object) -> AsyncIterator[Runtime]:
    async with trio.open_nursery() as nursery:
        ready: list[Runtime] = []

        async def serve() -> None:
            await serve_runtime(rt.root, host=host, settings=FAST, handle_signals=False,
                                pidfile=False, on_ready=ready.append, **kw)  # type: ignore[arg-type]

        nursery.start_soon(serve)
        await until(lambda: ready, "runtime ready")
        try:
            yield ready[0]
        finally:
            ready[0].shutdown("suspend")


async def register(town: Town, name: str, cli: str, host: str) -> AgentId:
    handle = await register_agent(town, name, cli, max_rounds=10)
    await town.channel.update_agent(handle.id, host=host)
    return handle.id


@pytest.fixture
def host() -> str:
    return f"test-host-{uuid.uuid4().hex[:8]}"


async def test_a_crashing_actor_ends_in_error_and_others_keep_working(
    rt_town: RtTown, host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_loop = actor_module.AgentActor._loop

    async def loop(self: actor_module.AgentActor) -> object:
        if self.name == "crashy":
            raise RuntimeError("boom")
        return await real_loop(self)

    monkeypatch.setattr(actor_module.AgentActor, "_loop", loop)
    async with Town.connect(rt_town.root) as town:
        crashy = await register(town, "crashy", "ok", host)
        steady = await register(town, "steady", "ok", host)
        async with running(rt_town, host):
            await until(lambda: rt_town.state("crashy") == "error", "crashy in Error")
            task = await town.assign(steady, "Still working")
            await until(lambda: rt_town.task(str(task.id)).get("state") == "completed",
                        "steady completed its task")
        assert rt_town.activity(str(crashy))[0] == (
            "❌ Error: actor crashed 3 times: RuntimeError: boom"
        )
        assert rt_town.state("steady") == "idle"


async def test_giving_up_never_overwrites_a_stop_made_after_the_read(
    rt_town: RtTown, host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Town.connect(rt_town.root) as town, running(rt_town, host, stay=True) as rt:
        aid = await register(town, "killed", "ok", host)
        channel = rt.ctx.town.channel
        stale = await channel.get_agent(aid)  # the runtime reads the record...
        await town.channel.update_agent(aid, state=AgentState.STOPPED)  # ...then a kill lands
        real = type(channel).get_agent

        async def read(self: object, agent_id: AgentId) -> object:
            return stale if agent_id == aid else await real(self, agent_id)  # type: ignore[arg-type]

        monkeypatch.setattr(type(channel), "get_agent", read)
        await rt._give_up(aid, RuntimeError("boom"))
    assert rt_town.state("killed") == "stopped"
    assert not any("Error" in line for line in rt_town.activity(str(aid)))


async def test_control_commands_and_exit_when_empty(rt_town: RtTown, host: str) -> None:
    async with Town.connect(rt_town.root) as town:
        channel = town.channel
        async with trio.open_nursery() as nursery:
            done: list[Runtime] = []

            async def serve() -> None:
                done.append(await serve_runtime(rt_town.root, host=host, settings=FAST,
                                                handle_signals=False, pidfile=False))

            nursery.start_soon(serve)
            await until(lambda: rt_town.r.get(rt_town.keys.runtime(host)), "liveness key")
            late = await register(town, "late", "ok", host)
            await rt_town_push(rt_town, host, "not json")
            await rt_town_push(rt_town, host, json.dumps({"op": "frobnicate"}))
            await channel.runtime_command(host, {"op": "start", "agent_id": str(late)})
            await until(lambda: rt_town.state("late") == "idle", "started by command")
            wake = {"op": "wake", "agent_id": str(late)}
            await channel.runtime_command(host, wake)
            await agent_service.kill(town, str(late))
            await channel.runtime_command(host, wake)
            await until(lambda: done, "runtime exits once its only agent stopped")
        assert rt_town.state("late") == "stopped"
        assert rt_town.r.get(rt_town.keys.runtime(host)) is None


async def rt_town_push(rt: RtTown, host: str, payload: str) -> None:
    rt.r.rpush(rt.keys.runtime_control(host), payload)
    await trio.lowlevel.checkpoint()


async def test_one_runtime_per_host_and_the_pidfile(rt_town: RtTown, host: str) -> None:
    async with Town.connect(rt_town.root) as town:
        await register(town, "w", "ok", host)
        async with trio.open_nursery() as nursery:
            ready: list[Runtime] = []
            nursery.start_soon(lambda: serve_runtime(
                rt_town.root, host=host, settings=FAST, handle_signals=False, pidfile=True,
                on_ready=ready.append))
            await until(lambda: ready, "first runtime")
            assert runtime_pidfile(rt_town.root).read_text().strip() == str(ready[0].pid)
            second = await trio.run_process(
                [sys.executable, "-m", "tinytown.runtime", "--town", str(rt_town.root),
                 "--host", host], capture_stderr=True, check=False)
            assert second.returncode == 0
            assert b"The town's runtime is already running on " in second.stderr
            await channel_shutdown(rt_town, host, "stop")
        assert not runtime_pidfile(rt_town.root).exists()
        assert rt_town.state("w") == "stopped"


async def channel_shutdown(rt: RtTown, host: str, mode: str) -> None:
    rt.r.rpush(rt.keys.runtime_control(host), json.dumps({"op": "shutdown", "mode": mode}))
    await trio.lowlevel.checkpoint()


async def test_pause_waits_without_rounds_until_resumed(rt_town: RtTown, host: str) -> None:
    async with Town.connect(rt_town.root) as town:
        aid = await register(town, "p", "ok", host)
        async with running(rt_town, host):
            await until(lambda: rt_town.state("p") == "idle", "idle")
            await agent_service.interrupt(town, "p")
            log = agent_log_path(rt_town.root, aid)
            await until(lambda: log.exists() and "paused. Waiting for resume" in log.read_text(),
                        "the actor waiting for a wake")
            task = await town.assign(aid, "While paused")
            await trio.sleep(0.5)  # 5 heartbeats in which an actor ignoring the pause would
            # take the task (negative check: the time has to pass)
            assert rt_town.task(str(task.id))["state"] == "assigned"
            assert rt_town.queued(str(aid)) == (0, 1, 0)
            assert rt_town.state("p") == "paused"
            await agent_service.resume(town, "p")  # no wake sent: the heartbeat notices
            await until(lambda: rt_town.task(str(task.id)).get("state") == "completed",
                        "handled after resume")


async def test_idle_timeout_drains_then_stops_and_clears_a_finished_task(
    rt_town: RtTown, host: str
) -> None:
    set_idle_timeout(rt_town.root, 1)
    async with Town.connect(rt_town.root) as town:
        aid = await register(town, "sleepy", "ok", host)
        done = Task.new("old", utcnow()).completed("ok", utcnow())
        await town.channel.set_task(done)
        await town.channel.update_agent(aid, current_task=done.id)
        async with running(rt_town, host):
            await until(lambda: rt_town.state("sleepy") == "stopped", "idled out")
        agent = await town.channel.require_agent(aid)
        assert agent.current_task is None
        assert "🔻 Idle timeout reached after 1s; draining and stopping" in rt_town.activity(
            str(aid))


async def test_informational_batches_are_acknowledged_without_a_round(
    rt_town: RtTown, host: str
) -> None:
    async with Town.connect(rt_town.root) as town:
        aid = await register(town, "quiet", "ok", host)
        async with running(rt_town, host):
            await until(lambda: rt_town.state("quiet") == "idle", "idle")
            rt_town.send(str(aid), MessageType.Informational(summary="fyi"))
            rt_town.send(str(aid), MessageType.Confirmation())
            await until(lambda: rt_town.activity(str(aid)), "activity line")
        assert rt_town.activity(str(aid))[0] == (
            "Round 1: ⏭️ auto-handled 1 informational, 1 confirmations"
        )
        assert rt_town.queued(str(aid)) == (0, 0, 0)
        assert rt_town.agent("quiet")["rounds_completed"] == "0"
        assert rt_town.seen_lines() == []


async def test_backlog_nudge_runs_a_round_with_the_synthetic_query(
    rt_town: RtTown, host: str
) -> None:
    async with Town.connect(rt_town.root) as town:
        aid = await register(town, "helper", "ok", host)
        await backlog.add(town, "Unowned work")
        async with running(rt_town, host):
            await until(lambda: rt_town.state("helper") == "idle", "idle")
            rt_town.send(str(aid), MessageType.Informational(summary="backlog grew"))
            await until(lambda: rt_town.agent("helper")["rounds_completed"] == "1", "a round")
        (_, flag, text), = rt_town.seen_lines()
        assert flag == "N"
        assert text.startswith("question: No direct assignments right now. Backlog has 1 ")


async def test_close_drains_then_stops(rt_town: RtTown, host: str) -> None:
    async with Town.connect(rt_town.root) as town:
        await register(town, "c", "ok", host)
        async with running(rt_town, host, stay=True) as runtime:
            await until(lambda: rt_town.state("c") == "idle", "idle")
            await agent_service.close(town, "c")
            await until(lambda: rt_town.state("c") == "stopped", "stopped")
            await until(lambda: not runtime.hosted, "actor ended")
        assert AgentState(rt_town.state("c")) is AgentState.STOPPED


async def test_a_redis_hiccup_during_a_long_round_does_not_restart_the_actor(
    rt_town: RtTown, host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SLEEP_S", "1.5")
    async with Town.connect(rt_town.root) as town:
        aid = await register(town, "steady", "slow", host)
        async with running(rt_town, host) as runtime:
            task = await town.assign(aid, "Survive a hiccup")
            await until(lambda: rt_town.state("steady") == "working", "the round running")
            # The heartbeat's next command meets a connection the server has closed.
            pool = runtime.ctx.town.redis.pool
            await until(lambda: [c for c in pool.idle if c.client_id], "idle connections")
            idle = [c.client_id for c in pool.idle if c.client_id]
            for client_id in idle:
                await town.redis.execute("CLIENT", "KILL", "ID", client_id)
            await until(lambda: rt_town.task(str(task.id)).get("state") == "completed",
                        "the round finished")
            assert rt_town.agent("steady")["incarnation"] == "1"  # never restarted


async def test_only_one_runtime_takes_over_from_a_dead_one(rt_town: RtTown, host: str) -> None:
    from tinytown.scripts import CLAIM_LIVENESS

    async with Town.connect(rt_town.root) as town:
        key = town.channel.keys.runtime(host)
        await town.redis.execute("SET", key, "999999", "PX", 30000)  # a dead holder
        first = await CLAIM_LIVENESS(town.redis, [key], ["999999", "111", 30000])
        second = await CLAIM_LIVENESS(town.redis, [key], ["999999", "222", 30000])
        assert (str(first), str(second)) == ("111", "111")
        assert await town.redis.execute("GET", key) == "111"
