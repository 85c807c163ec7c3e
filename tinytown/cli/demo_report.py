"""``tt demo``: the scenario and its progress report. Pure: no I/O, no clock.

The scenario is three ``demo`` agents (``backend``, ``frontend`` and a
``reviewer`` with role ``reviewer``), five tasks (the last a review) and one
query between agents. The watcher of :mod:`tinytown.cli.demo_run` observes the
town repeatedly; :func:`progress_lines` turns two observations into one line
per change, :func:`summary_lines` reports the end.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from tinytown.cli.icons import AGENT_STATES
from tinytown.models import AgentState, TaskState

DEMO_TOWN_NAME = "tt-demo"


@attrs.frozen
class DemoAgentSpec:
    name: str
    role: str | None = None


@attrs.frozen
class DemoTaskSpec:
    agent: str
    description: str


@attrs.frozen
class DemoQuerySpec:
    sender: str
    recipient: str
    question: str


DEMO_AGENTS = (
    DemoAgentSpec("backend"),
    DemoAgentSpec("frontend"),
    DemoAgentSpec("reviewer", role="reviewer"),
)
DEMO_TASKS = (
    DemoTaskSpec("backend", "Design the greeting API: GET /hello returns a friendly message"),
    DemoTaskSpec("backend", "Implement GET /hello in app/server.py"),
    DemoTaskSpec("frontend", "Build the landing page that shows the greeting from GET /hello"),
    DemoTaskSpec("frontend", "Write the README quick start for the greeting app"),
    DemoTaskSpec("reviewer", "Review the greeting API and the landing page before release"),
)
DEMO_QUERY = DemoQuerySpec(
    "frontend", "backend", "Which JSON field of GET /hello holds the greeting?"
)


@attrs.frozen
class AgentView:
    """What the demo shows of an agent at one observation."""

    label: str
    state: AgentState
    rounds: int = 0
    tasks_completed: int = 0


@attrs.frozen
class TaskView:
    """What the demo shows of a task at one observation."""

    number: int
    description: str
    state: TaskState
    assignee: str


@attrs.frozen
class Observation:
    """The town at one instant, keyed by id text."""

    agents: Mapping[str, AgentView] = attrs.field(factory=dict)
    tasks: Mapping[str, TaskView] = attrs.field(factory=dict)

    @property
    def completed(self) -> int:
        return sum(1 for t in self.tasks.values() if t.state is TaskState.COMPLETED)

    @property
    def busy(self) -> bool:
        """Some agent is still in a round."""
        return any(a.state is AgentState.WORKING for a in self.agents.values())

    @property
    def all_completed(self) -> bool:
        return bool(self.tasks) and self.completed == len(self.tasks)

    def problem(self) -> str | None:
        """Why the demo cannot finish (a failed task, an agent in Error), if so."""
        for task in self.tasks.values():
            if task.state in (TaskState.FAILED, TaskState.CANCELLED):
                return f"task {task.number} ({_short(task.description)}) {task.state.value}"
        for agent in self.agents.values():
            if agent.state is AgentState.ERROR:
                return f"agent {agent.label} is in Error (see 'tt status --deep' with --keep)"
        return None


def _short(text: str, n: int = 50) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def stamp(elapsed_s: float) -> str:
    return f"[{elapsed_s:6.1f}s]"


def progress_lines(before: Observation, after: Observation, elapsed_s: float) -> list[str]:
    """One line per agent state change, task start and task completion, in that order."""
    at = stamp(elapsed_s)
    lines: list[str] = []
    for key, agent in after.agents.items():
        old = before.agents.get(key)
        if old is None or old.state is not agent.state:
            lines.append(f"{at} {AGENT_STATES[agent.state]} {agent.label} is {agent.state.label}")
    total = len(after.tasks)
    done = before.completed
    for key, task in sorted(after.tasks.items(), key=lambda kv: kv[1].number):
        old_task = before.tasks.get(key)
        if old_task is not None and old_task.state is task.state:
            continue
        what = _short(task.description)
        if task.state is TaskState.RUNNING:
            lines.append(f"{at} 🔄 Task {task.number}/{total} started by {task.assignee}: {what}")
        elif task.state is TaskState.COMPLETED:
            done += 1
            lines.append(
                f"{at} ✅ Task {task.number}/{total} completed by {task.assignee}: {what}"
                f" ({done}/{total} done)"
            )
        elif task.state in (TaskState.FAILED, TaskState.CANCELLED):
            lines.append(f"{at} ❌ Task {task.number}/{total} {task.state.value}: {what}")
    return lines


def summary_lines(final: Observation, elapsed_s: float) -> list[str]:
    """The closing summary: tasks, agents, rounds, elapsed time."""
    rounds = sum(a.rounds for a in final.agents.values())
    lines = [
        "📊 Demo summary",
        f"   Tasks: {final.completed}/{len(final.tasks)} completed",
        f"   Agents: {len(final.agents)}",
    ]
    for agent in sorted(final.agents.values(), key=lambda a: a.label):
        lines.append(
            f"     - {agent.label}: {agent.tasks_completed} task(s), "
            f"{agent.rounds} round(s), {agent.state.label}"
        )
    lines += [f"   Rounds: {rounds}", f"   Elapsed: {elapsed_s:.1f}s"]
    return lines
