"""The public Python API: ``tinytown.Town`` and its agent handles, as the book shows them.

Usage::

    async with Town.connect(".") as town:
        worker = await town.spawn_agent("worker-1", "claude")
        await worker.assign(Task.new("Implement the login API"))
        await worker.send(MessageType.StatusRequest, urgent=True)

Every verb calls the service the ``tt`` command uses (ARCHITECTURE.md decision
8), so a Python program gets the same atomic operations: ``spawn_agent`` is
``tt spawn`` (the town's runtime on this host runs the agent, started in the
background if needed), ``assign`` is ``tt assign`` (task, message and event
in one transaction), ``wait`` is ``tt wait``.

``Town.init``/``Town.connect`` may be used with ``async with`` or awaited
(``town = await Town.connect(".")``, then ``await town.aclose()``). Leaving
``Town.init`` stops the runtime and the Redis it started (the book's "drop →
Redis stopped"; ``keep_redis=True`` keeps them); closing a ``Town.connect``
leaves a running town alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import attrs

from tinytown.models import (
    SUPERVISOR,
    Agent,
    AgentId,
    AgentState,
    Message,
    MessageKind,
    Priority,
    Task,
    TaskId,
)
from tinytown.procwait import pid_alive
from tinytown.runtime.containment import end_processes
from tinytown.runtime.launch import shut_down_runtimes
from tinytown.runtime.settings import DEFAULT_MAX_ROUNDS, host_id
from tinytown.runtime.spawning import spawn
from tinytown.services import agents as agent_service
from tinytown.services import tasks as task_service
from tinytown.services.messages import deliver
from tinytown.town import Town as _TownCore

KILL_GRACE_S: Final = 5.0
"""How long a runtime that ignored the shutdown request gets after SIGTERM."""


class Town(_TownCore):
    """A connected town with the book's verbs. Open with :meth:`init` or :meth:`connect`."""

    INIT_KEEPS_REDIS = False  # the book: leaving Town.init stops what it started

    async def _before_redis_stops(self) -> None:
        # A runtime left without its Redis would retry forever: ask, then end the stragglers.
        asked = await shut_down_runtimes(self)
        await end_processes([pid for pid in asked if pid_alive(pid)], KILL_GRACE_S)

    async def spawn_agent(
        self,
        name: str,
        cli: str | None = None,
        *,
        role: str | None = None,
        max_rounds: int = DEFAULT_MAX_ROUNDS,
    ) -> AgentHandle:
        """Create an agent and have the town's runtime on this host run it (``tt spawn``).

        Raises:
            InvalidInputError, ConfigError: a bad or reserved name.
            AgentExistsError: a live agent already has this name.
            ModelError: the model CLI is unknown or not installed.
        """
        launch = await spawn(
            self, _text("name", name), cli=cli, max_rounds=max_rounds, role=role, host=host_id()
        )
        return AgentHandle(self, launch.agent.id, launch.agent.name)

    async def agent(self, ref: str | AgentId) -> AgentHandle:
        """A handle on an agent: name, nickname, label, short id, UUID or ``supervisor``.

        Raises:
            AgentNotFoundError, AmbiguousAgentError: the reference matches no or several agents.
        """
        if isinstance(ref, AgentId):
            agent = await self.channel.require_agent(ref)
            return AgentHandle(self, agent.id, agent.name)
        aid, record = await self.resolve(_text("ref", ref))
        return AgentHandle(self, aid, record.name if record else "supervisor")

    async def assign(
        self,
        to: str | AgentId | AgentHandle,
        task: str | Task,
        *,
        tags: Sequence[str] = (),
    ) -> Task:
        """Assign a task (a description or a :class:`Task`) to an agent (``tt assign``)."""
        done = await task_service.assign(self, _ref(to), task, tags=tags)
        return done.task


@attrs.frozen
class AgentHandle:
    """A handle on one agent of a connected town."""

    town: Town
    id: AgentId
    name: str

    async def record(self) -> Agent:
        return await self.town.channel.require_agent(self.id)

    async def assign(self, task: str | Task, *, tags: Sequence[str] = ()) -> TaskId:
        """Assign a task (a description or a :class:`Task`) to this agent; its id."""
        return (await self.town.assign(self, task, tags=tags)).id

    async def send(
        self,
        kind: MessageKind | type[MessageKind],
        *,
        priority: Priority = Priority.NORMAL,
        urgent: bool = False,
        sender: AgentId = SUPERVISOR,
    ) -> Message:
        """Send a message (``MessageType.Query(question=...)``, ``MessageType.StatusRequest``)."""
        message = Message.new(sender, self.id, kind, priority=priority)
        await deliver(self.town, message, urgent=urgent)
        return message

    async def inbox_len(self) -> int:
        return await self.town.channel.inbox_len(self.id)

    async def state(self) -> AgentState:
        return (await self.record()).state

    async def wait(self, timeout: float | None = None) -> AgentState:
        """Wait until the agent is Stopped, Error or Cold; the current state on timeout."""
        return (await agent_service.wait(self.town, str(self.id), timeout)).state


def _ref(to: object) -> str:
    if isinstance(to, AgentHandle | AgentId):
        return str(to.id if isinstance(to, AgentHandle) else to)
    return _text("to", to)


def _text(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    return value
