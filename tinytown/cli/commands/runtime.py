"""``tt spawn``, ``tt restart``, ``tt start``: agents and the runtime (cli.md §2.2, §3.1, §3.4).

Thin adapters over :mod:`tinytown.runtime.spawning` and
:mod:`tinytown.runtime.host`; outputs as the book shows them. Agents run in
the town's runtime process for this host (started in the background when
needed); ``--foreground`` runs a runtime for that one agent in this terminal.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from cyclopts import Parameter

from tinytown.cli.context import OPTIONS
from tinytown.cli.output import say, warn

if TYPE_CHECKING:
    from tinytown.models import Agent
    from tinytown.runtime.host import Runtime
    from tinytown.town import Town

Flag = Annotated[bool, Parameter(negative=())]
ModelRef = Annotated[str | None, Parameter(name=["--model", "-m", "--cli", "-c"])]
INTERRUPTED = 130


def _typed_log_path(agent_id: object) -> Path:
    """The agent's log path built from the town path as typed (``.tt/logs/<agent id>.log``)."""
    return Path(OPTIONS.town) / ".tt" / "logs" / f"{agent_id}.log"


def spawn(
    name: str,
    /,
    *,
    model: ModelRef = None,
    max_rounds: int = 10,
    role: str | None = None,
    foreground: Flag = False,
) -> None:
    """Create a new agent and start it. This actually starts an AI process!

    The agent is registered in Redis (state Starting) and run by the town's
    runtime for this host, which is started in the background if it is not
    running (its log: '.tt/logs/runtime.log'). Each round feeds the agent's
    inbox to the model CLI; output goes to '.tt/logs/<agent id>_round_<n>.log'.
    A name already used by a live agent is refused.

    Parameters
    ----------
    name : str
        Agent name, e.g. 'worker-1', 'backend', 'reviewer' (letters, digits, '-_.').
    model : str
        Model CLI preset (claude, auggie, codex, codex-mini, aider, gemini, copilot,
        cursor, demo, or one from 'tinytown.toml') or a raw command; default: the
        town's 'default_cli'. '--cli'/'-c' are accepted too.
    max_rounds : int
        Maximum model rounds before the agent stops.
    role : str
        Explicit role id shown as 'Nickname [role]'.
    foreground : bool
        Run the agent in this terminal (its log lines shown) until it stops or Ctrl+C.
    """
    from tinytown.cli.runner import run_town
    from tinytown.runtime.settings import foreground_host_id, host_id
    from tinytown.runtime.spawning import spawn as spawn_agent

    async def body(town: Town) -> None:
        host = foreground_host_id() if foreground else host_id()
        launch = await spawn_agent(town, name, cli=model, max_rounds=max_rounds, role=role,
                                   host=host, background=not foreground)
        agent = launch.agent
        if launch.warning is not None:
            warn(f"⚠️  {launch.warning}")
        say(f"🤖 Spawned agent '{agent.name}' using model '{launch.cli_name}'")
        say(f"   ID: {agent.id}")
        # tinytown.toml may come from a cloned repository: show what will run.
        say(f"   Command: {town.config.resolve_cli_command(launch.cli_name)}")
        if launch.cleaned_logs:
            say(f"   Cleaned {launch.cleaned_logs} old round log file(s)")
        if foreground:
            say(f"🔄 Running agent loop (max {launch.max_rounds} rounds)...")
            await _run_foreground(town, agent, host)
            return
        say(f"🔄 Starting agent loop in background (max {launch.max_rounds} rounds)...")
        say(f"   Logs: {_typed_log_path(agent.id)}")
        say("   Agent running in background. Check status with 'tt status'")

    run_town(body)


def restart(agent: str, /, *, rounds: int = 10, foreground: Flag = False) -> None:
    """Restart a stopped agent with fresh rounds, keeping its id.

    Only agents in a terminal state (Stopped, Error, Cold) can be restarted;
    stop a running one with 'tt kill' first. The agent becomes Idle with its
    round count reset and its stop flag removed; its queued messages are kept.
    To create a new agent, use 'tt spawn'.

    Parameters
    ----------
    agent : str
        The agent's name (or id, short id or nickname).
    rounds : int
        Maximum rounds for the restarted agent.
    foreground : bool
        Run the agent in this terminal until it stops or Ctrl+C.
    """
    from tinytown.cli.runner import run_town
    from tinytown.runtime.settings import foreground_host_id, host_id
    from tinytown.runtime.spawning import restart as restart_agent

    async def body(town: Town) -> None:
        host = foreground_host_id() if foreground else host_id()
        launch = await restart_agent(town, agent, rounds=rounds, host=host,
                                     background=not foreground)
        say(f"🔄 Restarting agent '{launch.agent.name}'...")
        say(f"   Rounds: {launch.max_rounds}")
        if launch.cleaned_logs:
            say(f"   Cleaned {launch.cleaned_logs} old round log file(s)")
        if foreground:
            await _run_foreground(town, launch.agent, host)
            return
        say(f"   Log: {_typed_log_path(launch.agent.id)}")
        say("")
        say(f"✅ Agent '{launch.agent.name}' restarted")

    run_town(body)


def start(*, detach: Flag = False) -> None:
    """Run the town's agent runtime and keep the town open until Ctrl+C.

    The runtime hosts every agent of this machine as a supervised actor and
    resumes those that were not stopped (after a crash or a reboot). Ctrl+C
    stops every agent gracefully (running model processes are stopped, their
    messages go back to the inbox, agents end Stopped); SIGTERM suspends them
    instead, to be resumed by the next 'tt start'. If the runtime already
    runs (started by 'tt spawn'), 'tt start' follows its log instead; Ctrl+C
    then detaches and leaves it running.

    Parameters
    ----------
    detach : bool
        Run the runtime in the background instead (it exits when no agents are left).
    """
    from tinytown.cli.attach import attach
    from tinytown.cli.cmdserver import server_argv
    from tinytown.cli.runner import run_town
    from tinytown.runtime.host import serve_runtime
    from tinytown.runtime.launch import ensure_runtime, runtime_log_path, runtime_pid
    from tinytown.runtime.settings import host_id

    async def body(town: Town) -> None:
        host = host_id()
        shown_log = Path(OPTIONS.town) / runtime_log_path(Path()).as_posix()
        if not detach:
            running = await runtime_pid(town, host)
            if running is not None:
                await attach(town, host, running, shown_log)
                return
        if detach:
            pid, started = await ensure_runtime(town, host)
            if started:
                say(f"🚀 Town runtime started in background (pid {pid})")
                say(f"   Logs: {shown_log}")
                say("   It exits when no agents are left.")
            else:
                say(f"🚀 Town runtime already running (pid {pid})")
            return

        def ready(runtime: Runtime) -> None:
            say("🚀 Town connection open")
            n = len(runtime.hosted)
            say(f"   Runtime pid {runtime.pid} hosting {n} agent(s). Press Ctrl+C to stop.")

        def signalled(mode: str) -> None:
            if mode == "stop":
                say("👋 Closing town connection...")
            else:
                say("👋 Closing town connection (agents suspended, resumed by the next start)...")

        await serve_runtime(town.root, host=host, stay=True, on_ready=ready,
                            on_signal=signalled, companion=server_argv(town.root))

    run_town(body)


async def _run_foreground(town: Town, agent: Agent, host: str) -> None:
    from tinytown.cli.cmdserver import server_argv
    from tinytown.runtime.host import serve_runtime

    interrupted = False

    def signalled(mode: str) -> None:
        nonlocal interrupted
        interrupted = True

    await serve_runtime(town.root, host=host, only=[agent.id], pidfile=False, echo=say,
                        on_signal=signalled, companion=server_argv(town.root))
    record = await town.channel.get_agent(agent.id)
    if interrupted:
        say(f"🛑 Agent '{agent.name}' stopped (interrupted)")
        raise SystemExit(INTERRUPTED)
    if record is not None and record.state.label == "Error":
        say(f"❌ Agent '{agent.name}' exited with error")
    else:
        say(f"✅ Agent '{agent.name}' completed")
