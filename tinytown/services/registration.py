"""Registering an agent record: what ``tt spawn`` and the Python API's ``spawn_agent`` write.

The record is written whole, its host included, in one step: an agent is
never visible without the runtime that should host it. Running it is the
runtime's part (:func:`tinytown.runtime.spawning.spawn`).
"""

from __future__ import annotations

import logging

from tinytown.errors import RedisError
from tinytown.models import Agent, AgentId, AgentState, Event, EventType, validate_agent_name
from tinytown.town import Town, utcnow

log = logging.getLogger("tinytown")


async def register_agent(
    town: Town,
    name: str,
    cli: str | None = None,
    *,
    role: str | None = None,
    parent: AgentId | None = None,
    max_rounds: int | None = None,
    host: str | None = None,
    agent_id: AgentId | None = None,
) -> Agent:
    """Write a new agent record (state ``starting``) and its ``agent_spawned`` event.

    Args:
        town: The connected town.
        name: The agent's name (validated).
        cli: The model CLI preset or command (default: the town's ``default_cli``).
        role: An explicit role id.
        parent: The agent that spawned this one.
        max_rounds: The round budget.
        host: The runtime that should host it (None: no runtime yet).
        agent_id: Its id, when files keyed by it were written first (default: a new one).

    Raises:
        ConfigError: the name is reserved.
        InvalidInputError: the name is empty, too long or has odd characters.
        AgentExistsError: a live agent already has this name (nothing is written).
    """
    clean = validate_agent_name(name)
    cli_name = town.config.resolve_cli_name(cli or town.config.default_cli)
    now = utcnow()
    agent = Agent.new(clean, cli_name, now, role_id=role, parent=parent, agent_id=agent_id)
    agent.max_rounds = max_rounds
    agent.host = host
    await town.channel.create_agent(agent)  # reserves the name atomically
    event = Event(
        event_type=EventType.AGENT_SPAWNED,
        message=f"Agent '{clean}' spawned with CLI {cli_name}",
        timestamp=now,
        agent_id=agent.id,
        new_state=AgentState.STARTING.label,
        parent_agent_id=parent,
        spawn_mode=agent.spawn_mode.value,
    )
    try:
        await town.channel.emit(event)
    except RedisError as exc:  # best effort, as every event (0.10): the agent exists
        log.warning("could not record the agent_spawned event: %s", exc)
    return agent
