"""``tt demo``: a whole town in a temporary directory, worked by three ``demo`` agents.

:func:`run_demo` creates the town (its own bundled Redis on a unix socket),
spawns the agents with the service ``tt spawn`` uses (so the detached
runtime starts as usual, with the demo's environment), assigns the scenario of
:mod:`tinytown.cli.demo_report`, reports progress until every task is
completed, and then cleans up everything it started: it asks the agents to
stop, waits for the runtime process to exit (terminating it by pid if it
does not), stops any model process left, stops Redis and removes the
directory (unless ``keep``). Lines for the user go through ``report``; this
module never prints.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TypeVar

import attrs
import trio

from tinytown.cli.demo_report import (
    DEMO_AGENTS,
    DEMO_QUERY,
    DEMO_TASKS,
    DEMO_TOWN_NAME,
    AgentView,
    Observation,
    TaskView,
    progress_lines,
    summary_lines,
)
from tinytown.errors import OperationTimeoutError, TinytownError
from tinytown.models import Message, MessageType, TaskId
from tinytown.procwait import wait_pid_gone
from tinytown.redis.server import PIDFILE as REDIS_PIDFILE
from tinytown.runtime.procfiles import read_pid, reap_orphan_model, runtime_pidfile
from tinytown.runtime.reaper import start_reaper
from tinytown.runtime.settings import host_id
from tinytown.runtime.spawning import spawn
from tinytown.services.tasks import assign
from tinytown.town import Town

DEFAULT_TIMEOUT_S = 120.0
POLL_S = 0.2
SETTLE_S = 10.0
RUNTIME_EXIT_S = 5.0
KILL_GRACE_S = 10.0
# Variables that would point the demo's processes at another town or Redis.
_FOREIGN_ENV = (
    "REDIS_URL",
    "TINYTOWN_REDIS_PASSWORD",
    "TINYTOWN_AGENT_ID",
    "TINYTOWN_AGENT_NAME",
    "TINYTOWN_TOWN",
)

Report = Callable[[str], None]
T = TypeVar("T")


@attrs.frozen
class DemoOptions:
    """How to run the demo.

    Attributes:
        timeout_s: give up (and clean up) when the tasks are not all done by then.
        keep: keep the temporary town directory.
        verbose: report process ids and paths too.
        parent_dir: where to create the temporary town (default: the system's).
    """

    timeout_s: float = DEFAULT_TIMEOUT_S
    keep: bool = False
    verbose: bool = False
    parent_dir: Path | None = None


def demo_env(base: Mapping[str, str]) -> dict[str, str]:
    """The environment of the demo's processes: ``base`` without foreign town settings."""
    return {k: v for k, v in base.items() if k not in _FOREIGN_ENV}


async def run_demo(options: DemoOptions, report: Report) -> None:
    """Run the demo end to end; everything started is stopped before returning.

    Raises:
        OperationTimeoutError: the tasks were not all completed in time.
        TinytownError: a step failed (a task failed, an agent went to Error…).
    """
    env = demo_env(os.environ)
    root = Path(tempfile.mkdtemp(prefix="tt-demo-", dir=options.parent_dir))
    # Should this process die without cleaning up (SIGKILL), the reaper does it.
    reaper = start_reaper(os.getpid(), root, remove=not options.keep)
    try:
        async with Town.init(root, DEMO_TOWN_NAME, env=env, register=False) as town:
            redis_pid = read_pid(root / REDIS_PIDFILE)
            report(f"🏘️  Tinytown demo: town '{town.name}' in a temporary directory")
            if options.verbose:
                report(f"   Town: {root}")
                report(f"   Redis pid: {redis_pid}")
            runner = _DemoRun(town, options, report)
            try:
                final, elapsed = await _until_terminated(runner.run)
                report("")
                for line in summary_lines(final, elapsed):
                    report(line)
            finally:
                with trio.CancelScope(shield=True):
                    await runner.shut_down()
    finally:
        if options.keep:
            report(f"📁 Demo town kept at {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
        reaper.kill()  # our own clean-up ran: the watchdog has nothing left to do
        reaper.wait()


async def _until_terminated(fn: Callable[[], Awaitable[T]]) -> T:
    """``await fn()``, turning SIGTERM/SIGHUP into an error so that clean-up still runs.

    (SIGINT already arrives as KeyboardInterrupt.)
    """
    received: list[int] = []
    result: list[T] = []

    async def watch(scope: trio.CancelScope) -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGHUP) as signals:
            async for signum in signals:
                received.append(signum)
                scope.cancel()
                return

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch, nursery.cancel_scope)
            result.append(await fn())
            nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # Only ``fn`` can fail here: let its error (KeyboardInterrupt too) through as is.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    if received or not result:
        name = signal.Signals(received[0]).name if received else "a signal"
        raise TinytownError(f"Demo interrupted by {name}")
    return result[0]


class _DemoRun:
    def __init__(self, town: Town, options: DemoOptions, report: Report) -> None:
        self.town = town
        self.options = options
        self.report = report
        self.runtime_pid: int | None = None
        self.task_ids: list[TaskId] = []

    async def run(self) -> tuple[Observation, float]:
        start = trio.current_time()
        for spec in DEMO_AGENTS:
            await spawn(self.town, spec.name, cli="demo", role=spec.role, host=host_id())
        self.runtime_pid = read_pid(runtime_pidfile(self.town.root))
        agents = {a.name: a for a in await self.town.list_agents()}
        labels = ", ".join(agents[s.name].label for s in DEMO_AGENTS if s.name in agents)
        self.report(f"🤖 Spawned {len(agents)} demo agents: {labels}")
        if self.options.verbose:
            self.report(f"   Runtime pid: {self.runtime_pid}")
        for work in DEMO_TASKS:
            done = await assign(self.town, str(agents[work.agent].id), work.description)
            self.task_ids.append(done.task.id)
        self.report(f"📌 Assigned {len(self.task_ids)} tasks (one is a review for the reviewer)")
        sender, recipient = agents[DEMO_QUERY.sender], agents[DEMO_QUERY.recipient]
        query = MessageType.Query(question=DEMO_QUERY.question)
        await self.town.channel.send(Message(from_=sender.id, to=recipient.id, kind=query))
        self.report(f"❓ {sender.label} asks {recipient.label}: {DEMO_QUERY.question}")
        self.report("")
        before = Observation()
        with trio.move_on_after(self.options.timeout_s):
            while True:
                now = await self.observe()
                elapsed = trio.current_time() - start
                for line in progress_lines(before, now, elapsed):
                    self.report(line)
                before = now
                problem = now.problem()
                if problem is not None:
                    raise TinytownError(f"Demo failed: {problem}")
                if now.all_completed:
                    self.report(f"🎉 All {len(self.task_ids)} tasks completed in {elapsed:.1f}s")
                    return await self.let_rounds_finish(now, start), elapsed
                await trio.sleep(POLL_S)
        raise OperationTimeoutError(
            f"Demo did not finish within {self.options.timeout_s:g}s: "
            f"{before.completed}/{len(self.task_ids)} tasks completed"
        )

    async def let_rounds_finish(self, last: Observation, start: float) -> Observation:
        """Let rounds still running finish (briefly) so the summary counts them."""
        with trio.move_on_after(SETTLE_S):
            while last.busy:
                await trio.sleep(POLL_S)
                now = await self.observe()
                for line in progress_lines(last, now, trio.current_time() - start):
                    self.report(line)
                last = now
        return last

    async def observe(self) -> Observation:
        agents = await self.town.list_agents()
        labels = {a.id: a.label for a in agents}
        views = {
            str(a.id): AgentView(a.label, a.state, a.rounds_completed, a.tasks_completed)
            for a in agents
        }
        records = await self.town.channel.get_tasks(self.task_ids)
        tasks: dict[str, TaskView] = {}
        for number, tid in enumerate(self.task_ids, start=1):
            task = records.get(tid)
            if task is None:
                continue
            assignee = labels.get(task.assigned_to, "unassigned") if task.assigned_to else "-"
            tasks[str(tid)] = TaskView(number, task.description, task.state, assignee)
        return Observation(views, tasks)

    async def shut_down(self) -> None:
        """Stop agents, the runtime, leftover models and Redis; bounded in time."""
        from tinytown.services.town_ops import stop_all_agents

        root = self.town.root
        agent_ids = []
        with trio.move_on_after(RUNTIME_EXIT_S):
            agent_ids = [a.id for a in await self.town.list_agents()]
            await stop_all_agents(self.town)
        self.runtime_pid = read_pid(runtime_pidfile(root)) or self.runtime_pid
        stopped = await _wait_or_kill(self.runtime_pid, RUNTIME_EXIT_S)
        for agent_id in agent_ids:
            await reap_orphan_model(root, agent_id, KILL_GRACE_S)
        redis_stopped = True
        try:
            await self.town.stop_redis()
        except (TinytownError, OSError) as exc:
            redis_stopped = False
            self.report(f"⚠️ Could not stop the demo's Redis: {exc}")
        parts = ["runtime stopped" if stopped else "runtime killed"]
        parts.append("Redis stopped" if redis_stopped else "Redis NOT stopped")
        self.report(f"🧹 Cleaned up: {', '.join(parts)}")


async def _wait_or_kill(pid: int | None, wait_s: float) -> bool:
    """Wait for the runtime ``pid`` to exit, else signal it. True if it exited by itself.

    SIGINT is the runtime's own "stop" shutdown (model processes killed, work
    requeued, agents Stopped); SIGKILL is the last resort.
    """
    if pid is None or await wait_pid_gone(pid, wait_s):
        return True
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return False
        if await wait_pid_gone(pid, KILL_GRACE_S):
            return False
    return False
