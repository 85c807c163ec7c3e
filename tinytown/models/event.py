"""Town events, appended to Redis streams."""

from __future__ import annotations

from datetime import datetime

import attrs

from tinytown.models.enums import EventType
from tinytown.models.ids import AgentId


@attrs.frozen
class Event:
    """One event; empty optional fields are omitted on the wire."""

    event_type: EventType
    message: str
    timestamp: datetime
    agent_id: AgentId | None = None
    task_id: str | None = None
    mission_id: str | None = None
    old_state: str | None = None
    new_state: str | None = None
    parent_agent_id: AgentId | None = None
    child_agent_id: AgentId | None = None
    scope: str | None = None
    spawn_mode: str | None = None
