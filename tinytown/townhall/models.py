"""Request and response bodies of the REST API (townhall.md §5), as msgspec Structs.

The routes validate request bodies with these and quart-schema generates
``/openapi.json`` from the same classes, so the document cannot drift from
what the server accepts.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec

from tinytown.models.agent import MAX_NAME_LEN

# A string with at least one non-blank character (the services refuse blank ones).
NonBlank = Annotated[str, msgspec.Meta(pattern=r"\S")]
AgentName = Annotated[str, msgspec.Meta(pattern=rf"^\s*[\w.-]{{1,{MAX_NAME_LEN}}}\s*$")]

# --- requests ------------------------------------------------------------------------------


class AssignRequest(msgspec.Struct):
    agent: NonBlank
    task: NonBlank


class BacklogAddRequest(msgspec.Struct):
    description: NonBlank
    tags: list[str] = msgspec.field(default_factory=list)


class AgentRefRequest(msgspec.Struct):
    agent: NonBlank


class SendRequest(msgspec.Struct):
    to: NonBlank
    message: NonBlank
    kind: str | None = None
    from_: str | None = msgspec.field(default=None, name="from")
    urgent: bool = False


class SpawnRequest(msgspec.Struct):
    name: AgentName
    cli: str | None = None
    role_id: str | None = None
    nickname: str | None = None
    parent_agent_id: uuid.UUID | None = None


class PruneRequest(msgspec.Struct):
    all: bool = False


class ReclaimRequest(msgspec.Struct):
    to_backlog: bool = False
    to: str | None = None
    from_: str | None = msgspec.field(default=None, name="from")


class OrphanRequest(msgspec.Struct):
    action: str | None = None


class MissionStopRequest(msgspec.Struct):
    force: bool = False


class MissionFailRequest(msgspec.Struct):
    reason: str | None = None


class StatusQuery(msgspec.Struct):
    """``/v1/status`` query: ``deep`` is accepted (as 0.10) and ignored."""

    deep: bool | None = None


# --- responses ---------------------------------------------------------------------------


class Health(msgspec.Struct):
    status: str
    uptime_secs: int


class Ready(msgspec.Struct, omit_defaults=True):
    status: str
    redis: str
    dispatcher: str
    town: str
    redis_latency_ms: float | None = None
    detail: str | None = None


class Scaling(msgspec.Struct):
    town: str
    timestamp: str
    queue_depth: int
    pending_tasks: int
    in_flight_tasks: int
    active_agents: int
    cold_agents: int
    desired_agents: int
    max_agents: int
    scaling_recommendation: str


class TownInfo(msgspec.Struct):
    name: str
    root: str
    redis_url: str


class AgentInfo(msgspec.Struct):
    id: str
    name: str
    nickname: str | None
    role_id: str | None
    parent_agent_id: str | None
    spawn_mode: str
    cli: str
    state: str
    current_scope: str | None


class AgentStatusInfo(AgentInfo):
    rounds_completed: int = 0
    tasks_completed: int = 0
    inbox_len: int = 0
    urgent_len: int = 0


class Status(msgspec.Struct):
    name: str
    root: str
    redis_url: str
    agent_count: int
    agents: list[AgentStatusInfo]


class AgentList(msgspec.Struct):
    agents: list[AgentInfo]
    count: int


class PendingTask(msgspec.Struct):
    task_id: str
    description: str
    agent_id: str
    agent_name: str


class PendingTasks(msgspec.Struct):
    tasks: list[PendingTask]
    count: int


class BacklogItem(msgspec.Struct):
    task_id: str
    description: str
    tags: list[str]


class Backlog(msgspec.Struct):
    backlog: list[BacklogItem]
    count: int


class InboxMessage(msgspec.Struct):
    id: str
    from_: str = msgspec.field(name="from")
    type: str = ""
    summary: str = ""


class Inbox(msgspec.Struct):
    agent: str
    total: int
    urgent: int
    messages: list[InboxMessage]


class Assigned(msgspec.Struct):
    task_id: str
    agent_id: str
    agent_name: str


class BacklogAdded(msgspec.Struct):
    task_id: str
    description: str


class AssignedAll(msgspec.Struct):
    assigned: int
    tasks: list[str]


class Removed(msgspec.Struct):
    removed: bool
    task_id: str


class MessageSent(msgspec.Struct):
    message_id: str
    to_agent: str
    urgent: bool


class Spawned(msgspec.Struct):
    agent_id: str
    name: str
    cli: str
    role_id: str | None
    nickname: str | None
    parent_agent_id: str | None


class AgentControl(msgspec.Struct):
    status: str
    agent: str


class Pruned(msgspec.Struct):
    removed: int
    agents: list[str]


class Recovered(msgspec.Struct):
    checked: int
    recovered: int
    agents: list[str]


class Reclaimed(msgspec.Struct):
    reclaimed: int
    destination: str


class OrphanInfo(msgspec.Struct):
    task_id: str
    assigned_to: str
    state: str
    reason: str


class Orphans(msgspec.Struct):
    action: str
    count: int
    orphans: list[OrphanInfo]


class MissionAction(msgspec.Struct, omit_defaults=True):
    id: str
    state: str
    note: str | None = None
    reason: str | None = None


class MissionDeleted(msgspec.Struct):
    id: str
    deleted: bool


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


# --- attention inbox -------------------------------------------------------------------------


class AttentionEntry(msgspec.Struct):
    id: str
    kind: str
    priority: int
    reason: str
    since: str
    actions: list[str]
    count: int
    agent: str | None = None
    task_id: str | None = None
    mission_id: str | None = None
    message_id: str | None = None
    work_item_id: str | None = None


class Attention(msgspec.Struct):
    count: int
    entries: list[AttentionEntry]


class AnswerRequest(msgspec.Struct):
    answer: NonBlank


class Answered(msgspec.Struct):
    message_id: str
    to_agent: str
    correlation_id: str


class GateDecisionRequest(msgspec.Struct):
    reason: NonBlank


class GateDecision(msgspec.Struct):
    mission_id: str
    work_item_id: str
    status: str
    reviewer_approved: bool
