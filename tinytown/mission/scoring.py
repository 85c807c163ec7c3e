"""Role-fit scoring: which idle agent suits a work item (missions.md §5.4). Pure."""

from __future__ import annotations

import enum
from typing import Final

from tinytown.models import Agent
from tinytown.models.mission import WorkItem, WorkKind

ASSIGNMENT_PENALTY: Final = 30


class Lane(enum.Enum):
    BACKEND = "backend"
    FRONTEND = "frontend"
    TESTER = "tester"
    REVIEWER = "reviewer"
    DEVOPS = "devops"
    RUNNER = "runner"
    RESEARCHER = "researcher"
    GENERALIST = "generalist"


_ROLE_LANES: Final = {
    "backend": Lane.BACKEND, "frontend": Lane.FRONTEND, "tester": Lane.TESTER,
    "test": Lane.TESTER, "reviewer": Lane.REVIEWER, "review": Lane.REVIEWER,
    "audit": Lane.REVIEWER, "devops": Lane.DEVOPS, "infra": Lane.DEVOPS, "runner": Lane.RUNNER,
    "researcher": Lane.RESEARCHER, "default": Lane.GENERALIST, "worker": Lane.GENERALIST,
}
_NAME_LANES: Final = (
    (("review", "audit"), Lane.REVIEWER),
    (("test", "qa"), Lane.TESTER),
    (("backend", "api", "server"), Lane.BACKEND),
    (("frontend", "ui", "web", "client"), Lane.FRONTEND),
    (("devops", "infra", "deploy"), Lane.DEVOPS),
    (("runner", "ci"), Lane.RUNNER),
    (("research", "explore"), Lane.RESEARCHER),
)
_ALIASES: Final = {"test": "tester", "review": "reviewer", "audit": "reviewer", "infra": "devops"}
_NAME_MATCH: Final = {
    "backend": ("backend", "api", "server"),
    "frontend": ("frontend", "ui", "web", "client"),
    "tester": ("test", "qa"),
    "reviewer": ("review", "audit"),
    "devops": ("devops", "infra", "deploy"),
}
_L = Lane
_KIND_TABLE: Final = {
    #                   Backend Frontend Devops Generalist Researcher Runner Tester Reviewer
    WorkKind.IMPLEMENT: (60, 60, 60, 60, 35, 35, 5, 0),
    WorkKind.TEST: (45, 45, 45, 45, 30, 30, 85, 10),
    WorkKind.REVIEW: (5, 5, 5, 20, 35, 5, 5, 100),
    WorkKind.DESIGN: (55, 55, 55, 55, 75, 20, 10, 30),
    WorkKind.MERGEGATE: (35, 35, 35, 35, 20, 80, 10, 50),
    WorkKind.FOLLOWUP: (50, 50, 50, 50, 50, 35, 20, 10),
}
_KIND_COLUMNS: Final = (_L.BACKEND, _L.FRONTEND, _L.DEVOPS, _L.GENERALIST, _L.RESEARCHER,
                        _L.RUNNER, _L.TESTER, _L.REVIEWER)


def alias(role: str) -> str:
    low = role.strip().lower()
    return _ALIASES.get(low, low)


def lane_of(agent: Agent) -> Lane:
    if agent.role_id:
        lane = _ROLE_LANES.get(agent.role_id.strip().lower())
        if lane is not None:
            return lane
    name = agent.name.lower()
    for words, lane in _NAME_LANES:
        if any(w in name for w in words):
            return lane
    return Lane.GENERALIST


def role_matches(agent: Agent, role: str) -> bool:
    wanted = alias(role)
    if agent.role_id:
        return alias(agent.role_id) == wanted
    name = agent.name.lower()
    words = _NAME_MATCH.get(wanted)
    return any(w in name for w in words) if words else wanted in name


def is_reviewer(agent: Agent) -> bool:
    """A reviewer-lane agent for review tasks (role review/reviewer/audit, or such a name)."""
    if agent.role_id:
        return alias(agent.role_id) == "reviewer"
    name = agent.name.lower()
    return "review" in name or "audit" in name


def _kind_score(kind: WorkKind, lane: Lane) -> int:
    return _KIND_TABLE[kind][_KIND_COLUMNS.index(lane)]


def _mismatch_score(role: str, kind: WorkKind, lane: Lane) -> int:
    if role in ("backend", "frontend", "devops"):
        table = {_L.GENERALIST: 55, _L.RESEARCHER: 20, _L.RUNNER: 20, _L.REVIEWER: 0,
                 _L.TESTER: 5 if kind is WorkKind.IMPLEMENT else 15}
        return table.get(lane, 35)
    if role == "tester":
        table = {_L.GENERALIST: 45, _L.RESEARCHER: 20, _L.RUNNER: 20, _L.TESTER: 100,
                 _L.REVIEWER: 5}
        return table.get(lane, 30)
    if role == "reviewer":
        table = {_L.GENERALIST: 10, _L.RESEARCHER: 20, _L.REVIEWER: 100}
        return table.get(lane, 0)
    return _kind_score(kind, lane)


def base_score(item: WorkItem, agent: Agent) -> int:
    lane = lane_of(agent)
    if item.kind is WorkKind.REVIEW and lane is Lane.REVIEWER:
        return 120
    if item.owner_role:
        if role_matches(agent, item.owner_role):
            return 100
        return _mismatch_score(alias(item.owner_role), item.kind, lane)
    return _kind_score(item.kind, lane)


def best_agent(item: WorkItem, idle: list[Agent], given: dict[str, int]) -> Agent | None:
    """The highest-scoring idle agent (ties: by name, then id), or None if no total is > 0.

    ``given`` counts the assignments already made to each agent id in this tick.
    """
    best: tuple[int, str, str] | None = None
    pick = None
    for agent in idle:
        total = base_score(item, agent) - ASSIGNMENT_PENALTY * given.get(agent.id.text, 0)
        key = (-total, agent.name, agent.id.text)
        if total > 0 and (best is None or key < best):
            best, pick = key, agent
    return pick
