"""Work that would wait forever, found before it does: no silent strands.

Two situations leave work queued with nothing to run it:

* the town's runtime on this host is not running (its liveness key and its
  pid file name no live process — killed, crashed, machine rebooted) while
  agents of this host are not terminal: their records still say Idle or
  Working, but no actor serves them;
* an agent that will not run by itself (Stopped, Error, Cold, Paused, or run
  by a foreground ``tt spawn --foreground`` whose process is gone) has
  messages waiting.

``tt status``, ``tt list`` and ``tt inbox`` report both; ``tt assign`` and
``tt send`` warn about the second and repair the first
(:func:`ensure_runtime_for`): a dead runtime is started again, and an agent
of a vanished foreground runtime of this machine is handed to the host's
background runtime. The decisions are pure functions of what was read.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from tinytown.channel import reply_or
from tinytown.models import Agent, AgentState
from tinytown.procwait import pid_alive
from tinytown.runtime.launch import ensure_runtime, runtime_pid
from tinytown.runtime.policy import IDLE_TIMEOUT_ACTIVITY_PREFIX
from tinytown.runtime.procfiles import read_pid, runtime_pidfile
from tinytown.runtime.settings import host_id
from tinytown.town import Town

FOREGROUND_MARK = ":fg:"
IDLE_TIMEOUT_KEY = "[agent] idle_timeout_secs"


@attrs.frozen
class RuntimeHealth:
    """The host's background runtime as seen now.

    Attributes:
        host: this machine's runtime identity.
        pid: the live runtime's pid, if one runs.
        stale_pid: a pid the pid file or the liveness key still names, whose process is gone.
        waiting: the non-terminal agents of this host (they need the runtime).
    """

    host: str
    pid: int | None
    stale_pid: int | None
    waiting: tuple[Agent, ...]

    @property
    def down(self) -> bool:
        """Agents of this host wait for a runtime that is not running."""
        return self.pid is None and bool(self.waiting)


def foreground_pid(agent: Agent, host: str) -> int | None:
    """The pid of the foreground runtime of this machine that ``agent`` belongs to, if any."""
    if agent.host is None or not agent.host.startswith(host + FOREGROUND_MARK):
        return None
    tail = agent.host[len(host) + len(FOREGROUND_MARK) :]
    return int(tail) if tail.isdigit() else None


def orphaned_foreground(agent: Agent, host: str) -> bool:
    """A live agent of a foreground runtime of this machine whose process is gone."""
    pid = foreground_pid(agent, host)
    return pid is not None and not agent.state.is_terminal and not pid_alive(pid)


def idle_reason(agent: Agent, health: RuntimeHealth) -> str | None:
    """Why ``agent`` will not run the work it is sent; ``None``: it will.

    Pure apart from the foreground liveness check (a pid on this machine).
    """
    state = agent.state
    if state is AgentState.STOPPED:
        return f"it is Stopped; restart it with 'tt restart {agent.name}'"
    if state is AgentState.ERROR:
        return f"it is in Error; restart it with 'tt restart {agent.name}'"
    if state is AgentState.COLD:
        return f"it is Cold; restart it with 'tt restart {agent.name}'"
    if state is AgentState.PAUSED:
        return f"it is Paused; resume it with 'tt resume {agent.name}'"
    if agent.host == health.host and health.down:
        return "the town's runtime is not running on this host; start it with 'tt start --detach'"
    if orphaned_foreground(agent, health.host):
        return (
            "the terminal that ran it ('tt spawn --foreground') is gone; "
            "any 'tt assign' or 'tt send' to it hands it to the town's runtime"
        )
    return None


async def runtime_health(town: Town, agents: Sequence[Agent]) -> RuntimeHealth:
    """Read the host's runtime liveness (pid file + liveness key) for ``agents``."""
    host = host_id()
    pid = await runtime_pid(town, host)
    stale: int | None = None
    if pid is None:
        recorded = read_pid(runtime_pidfile(town.root))
        raw = await town.redis.execute("GET", town.channel.keys.runtime(host))
        if recorded is None and raw is not None and str(raw).isdigit():
            recorded = int(raw)
        stale = recorded
    waiting = tuple(a for a in agents if a.host == host and not a.state.is_terminal)
    return RuntimeHealth(host, pid, stale, waiting)


async def ensure_runtime_for(town: Town, agent: Agent | None) -> int | None:
    """Make sure something runs ``agent`` (after work was queued for it).

    Starts the host's background runtime when the agent belongs to it and it is
    down (the new runtime resumes every live agent of the host, this one
    included), and hands an agent whose foreground runtime vanished to the
    background runtime. Terminal, paused and other hosts' agents are left alone.

    Returns:
        The pid of a runtime started by this call, else ``None``.
    """
    if agent is None or agent.state.is_terminal:
        return None
    host = host_id()
    if orphaned_foreground(agent, host):
        await town.channel.update_agent(agent.id, host=host)
        await town.channel.runtime_command(host, {"op": "start", "agent_id": str(agent.id)})
    elif agent.host != host:
        return None
    pid, started = await ensure_runtime(town, host)
    return pid if started else None


async def stopped_for_idleness(town: Town, agents: Sequence[Agent]) -> set[str]:
    """Ids of the Stopped agents whose latest activity is the idle-timeout stop (one round trip)."""
    stopped = [a for a in agents if a.state is AgentState.STOPPED]
    if not stopped:
        return set()
    keys = town.channel.keys
    pipe = town.redis.pipeline()
    for a in stopped:
        pipe.cmd("LINDEX", keys.activity(a.id), 0)
    replies = await pipe.execute(raise_on_error=False)
    return {
        str(a.id)
        for a, reply in zip(stopped, replies, strict=True)
        if str(reply_or(reply, keys.activity(a.id), "") or "").startswith(
            IDLE_TIMEOUT_ACTIVITY_PREFIX)
    }
