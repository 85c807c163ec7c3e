"""Spawning and restarting agents: register, then have a runtime run them (cli.md §3.1, §3.4).

Both check everything before writing anything: the name (reserved, invalid
characters, taken by a live agent), the round budget, and that the model
CLI is installed — in the calling shell, whose resolved command, PATH and
provider variables are recorded for the runtime (:mod:`tinytown.runtime.launch_env`).
The record gets the runtime's host, then the ``start``
command is queued *before* the runtime's liveness is checked: a runtime that
is just exiting re-reads the records after dropping its liveness key, so
either it sees the new agent or the check here sees no runtime and starts one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs

from tinytown.errors import (
    AgentExistsError,
    AgentNotFoundError,
    AmbiguousAgentError,
    CapacityError,
    InvalidInputError,
    InvalidStateError,
)
from tinytown.files import private_dir, write_private
from tinytown.models import Agent, AgentId, AgentState, validate_agent_name
from tinytown.runtime.agentlog import agent_log_path, clean_round_logs
from tinytown.runtime.capacity import local_capacity
from tinytown.runtime.launch import ensure_runtime
from tinytown.runtime.launch_env import launch_env_path, save_launch_env, unattended_warning
from tinytown.runtime.model import capture_model_launch, resolve_command
from tinytown.runtime.settings import DEFAULT_MAX_ROUNDS
from tinytown.services.registration import register_agent
from tinytown.town import Town, utcnow

RESTART_ACTIVITY = "🔄 Restarted with {rounds} rounds"


@attrs.frozen
class Launch:
    """What ``spawn``/``restart`` did.

    Attributes:
        agent: the agent record as registered.
        cli_name: the model CLI's preset name.
        max_rounds: the round budget.
        cleaned_logs: old round logs deleted.
        log_path: the agent's loop log.
        warning: why the model CLI, as configured, cannot act unattended (if so).
    """

    agent: Agent
    cli_name: str
    max_rounds: int
    cleaned_logs: int
    log_path: Path
    warning: str | None = None


def _check_rounds(rounds: int) -> None:
    if rounds < 0:
        raise InvalidInputError(f"The round budget must not be negative, got {rounds}")


def _fresh_logs(root: Path, agent_id: AgentId) -> tuple[int, Path]:
    cleaned = clean_round_logs(root, agent_id)
    path = agent_log_path(root, agent_id)
    private_dir(path.parent)
    write_private(path, "")
    return cleaned, path


async def spawn(
    town: Town,
    name: str,
    *,
    cli: str | None = None,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    role: str | None = None,
    host: str,
    background: bool = True,
) -> Launch:
    """Register a new agent for ``host`` and, with ``background``, have that host's runtime run it.

    Raises:
        ConfigError: the name is reserved.
        InvalidInputError: the name is empty, too long or has odd characters; negative rounds.
        AgentExistsError: a live agent already has this name.
        InvalidStateError: the town has ``max_agents`` live agents already.
        ModelError: the model CLI is unknown or not installed.
        OperationTimeoutError: the background runtime did not start.
    """
    clean = validate_agent_name(name)
    _check_rounds(max_rounds)
    await town.channel.require_name_free(clean)
    agents = await town.list_agents()
    if background:
        await check_capacity(town, agents, host, clean)
    check_max_agents(town, agents)
    cli_ref = cli if cli is not None and cli.strip() else town.config.default_cli
    cli_name, launch_env = capture_model_launch(town.config, cli_ref, town.root)
    aid = AgentId.new()
    save_launch_env(town.root, aid, launch_env)  # before the record: the runtime reads it
    try:
        agent = await register_agent(
            town, clean, cli_ref, role=role, max_rounds=max_rounds, host=host, agent_id=aid
        )
    except AgentExistsError:  # a concurrent spawn took the name: nothing of ours is left
        launch_env_path(town.root, aid).unlink(missing_ok=True)
        raise
    cleaned, log_path = _fresh_logs(town.root, agent.id)
    warning = unattended_warning(resolve_command(town.config, cli_ref))
    if not background:
        return Launch(agent, cli_name, max_rounds, cleaned, log_path, warning)
    await _start_in_runtime(town, agent.id, host)
    return Launch(agent, cli_name, max_rounds, cleaned, log_path, warning)


def check_max_agents(town: Town, agents: list[Agent]) -> None:
    """Refuse one more live agent past the town's ``max_agents`` (the book: it "prevents
    accidentally spawning too many"; 0.10 wrote it but never enforced it).

    Raises:
        InvalidStateError: the town already has ``max_agents`` live (non-terminal) agents.
    """
    limit = town.config.max_agents
    live = sum(1 for a in agents if not a.state.is_terminal)
    if live >= limit:
        raise InvalidStateError(
            f"The town already has {live} live agent(s), its max_agents ({limit}, in "
            "tinytown.toml); stop one ('tt kill NAME', then 'tt prune') or raise max_agents"
        )


async def find_for_restart(town: Town, ref: str) -> Agent:
    """The agent ``tt restart`` means: exact canonical name first (cli.md §3.4), else a reference.

    Among several agents of that name, the only terminal one is chosen.

    Raises:
        AgentNotFoundError: nothing matches.
        AmbiguousAgentError: several terminal agents have that name.
    """
    agents = await town.list_agents()
    named = [a for a in agents if a.name == ref.strip()]
    if len(named) > 1:
        terminal = [a for a in named if a.state.is_terminal]
        named = terminal if terminal else named
        if len(named) > 1:
            listed = ", ".join(f"{a.label} ({a.short_id})" for a in named)
            raise AmbiguousAgentError(f"Agent reference '{ref}' is ambiguous: {listed}")
    if named:
        return named[0]
    _, agent = await town.resolve(ref)
    if agent is None:
        raise AgentNotFoundError(ref)
    return agent


async def restart(
    town: Town, ref: str, *, rounds: int = DEFAULT_MAX_ROUNDS, host: str, background: bool = True
) -> Launch:
    """Revive a Stopped/Error/Cold agent with a fresh round budget, keeping its id.

    The record becomes ``idle`` with ``rounds_completed = 0`` (``last_active_at``
    is refreshed, so the idle timeout starts over), the stop flag is removed
    and ``🔄 Restarted with <N> rounds`` is logged, atomically and only if the
    agent is still terminal.

    Raises:
        AgentNotFoundError: no such agent.
        InvalidStateError: the agent is still active (kill it first).
        AgentExistsError: another live agent has taken its name meanwhile.
        ModelError: its model CLI is not installed.
    """
    _check_rounds(rounds)
    agent = await find_for_restart(town, ref)
    if not agent.state.is_terminal:
        raise _still_active(ref, agent.state)
    check_max_agents(town, await town.list_agents())
    if background:
        await check_capacity(town, await town.list_agents(), host, agent.name)
    cli_name, launch_env = capture_model_launch(
        town.config, agent.cli or town.config.default_cli, town.root)
    state = await town.channel.revive_agent(
        agent, now=utcnow(), rounds=rounds, host=host,
        activity=RESTART_ACTIVITY.format(rounds=rounds),
    )
    if state == "-":
        raise AgentNotFoundError(ref)
    if state:
        raise _still_active(ref, AgentState(state))
    save_launch_env(town.root, agent.id, launch_env)
    cleaned, log_path = _fresh_logs(town.root, agent.id)
    agent = await town.channel.require_agent(agent.id)
    if not background:
        return Launch(agent, cli_name, rounds, cleaned, log_path)
    await _start_in_runtime(town, agent.id, host)
    return Launch(agent, cli_name, rounds, cleaned, log_path)


async def check_capacity(town: Town, agents: Sequence[Agent], host: str, name: str) -> None:
    """Refuse an agent the host's runtime could not host (its open-file limit), before anything.

    The capacity is the one the running runtime published, else the one a
    runtime started from here would have.

    Raises:
        CapacityError: the runtime is full.
    """
    published = await town.redis.execute("GET", town.channel.keys.capacity(host))
    capacity = int(published) if published is not None and str(published).isdigit() else (
        local_capacity())
    hosted = sum(1 for a in agents if a.host == host and not a.state.is_terminal)
    if hosted >= capacity:
        raise CapacityError(
            f"Cannot start agent '{name}': the runtime on {host} is at capacity ({hosted} of "
            f"{capacity} agents for its open-file limit); raise 'ulimit -n' and restart the "
            "runtime, or stop some agents"
        )


def _still_active(ref: str, state: AgentState) -> InvalidStateError:
    return InvalidStateError(
        f"Agent '{ref}' is still active ({state.label}); use 'tt kill {ref}' to stop it first"
    )


async def _start_in_runtime(town: Town, agent_id: AgentId, host: str) -> None:
    await town.channel.runtime_command(host, {"op": "start", "agent_id": str(agent_id)})
    await ensure_runtime(town, host)
