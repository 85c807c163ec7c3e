"""Read back the machine-findable parts of a prompt built by :mod:`tinytown.runtime.prompt`.

Used by the offline ``demo`` model (and handy for tests): it finds each
actionable item, its sender, and for a task assignment the task id, plus the
role-matching backlog tasks. Pure, no I/O.
"""

from __future__ import annotations

import re

import attrs

URGENT_TAG = "🚨 URGENT"
"""The priority tag of an urgent item (the book's 🚨 marker); normal items say ``normal``."""
NORMAL_TAG = "normal"

_ITEM = re.compile(
    r"^(?P<index>\d+)\. \[(?P<tag>[^\]]+)\] "
    r"(?:task assignment from (?P<assigner>\S+)|from (?P<sender>[^:\s]+): (?P<summary>.*))$"
)
_TASK_ID = re.compile(r"^   Task ID: (?P<id>\S+)$")
_DESCRIPTION = re.compile(r"^   Description: (?P<text>.*)$")
_BACKLOG_ITEM = re.compile(r"^- (?P<id>[0-9a-fA-F-]{36}) - (?P<text>.*)$")
_AGENT = re.compile(r"^# Agent: (?P<name>.+)$")
QUERY_PREFIX = "question: "
BACKLOG_NUDGE = "No direct assignments right now."
"""How the supervisor's synthetic backlog query starts."""


@attrs.frozen
class ParsedItem:
    """One actionable item of a prompt.

    Attributes:
        index: its number in the list (1-based).
        urgent: it came from the urgent queue.
        sender: the sender's id as printed (a UUID).
        task_id: for a task assignment, the task id; otherwise ``None``.
        text: the task description for an assignment, else the one-line summary.
    """

    index: int
    urgent: bool
    sender: str
    task_id: str | None
    text: str

    @property
    def is_query(self) -> bool:
        return self.task_id is None and self.text.startswith(QUERY_PREFIX)

    @property
    def is_backlog_nudge(self) -> bool:
        """The runtime's synthetic query asking the agent to claim from the backlog."""
        return self.is_query and self.question.startswith(BACKLOG_NUDGE)

    @property
    def question(self) -> str:
        """The question of a query item (empty for other items)."""
        return self.text[len(QUERY_PREFIX) :] if self.is_query else ""


@attrs.frozen
class ParsedBacklogTask:
    """A role-matching backlog task listed in a prompt's backlog snapshot."""

    task_id: str
    text: str


def _section(prompt: str, heading: str) -> list[str]:
    lines = prompt.splitlines()
    try:
        start = lines.index(heading) + 1
    except ValueError:
        return []
    out: list[str] = []
    for line in lines[start:]:
        if line.startswith("## "):
            break
        out.append(line)
    return out


def parse_agent_name(prompt: str) -> str | None:
    """The agent name of the ``# Agent: <NAME>`` title, if present."""
    for line in prompt.splitlines():
        match = _AGENT.match(line)
        if match:
            return match["name"].strip()
    return None


def parse_items(prompt: str) -> list[ParsedItem]:
    """The actionable items of a prompt, in order."""
    items: list[ParsedItem] = []
    pending: dict[str, str | int | bool] | None = None

    def flush() -> None:
        if pending is not None:
            items.append(
                ParsedItem(
                    index=int(pending["index"]),
                    urgent=bool(pending["urgent"]),
                    sender=str(pending["sender"]),
                    task_id=str(pending["task_id"]) if pending.get("task_id") else None,
                    text=str(pending.get("text", "")),
                )
            )

    for line in _section(prompt, "## Actionable Messages (already popped)"):
        match = _ITEM.match(line)
        if match:
            flush()
            pending = {
                "index": int(match["index"]),
                "urgent": match["tag"] == URGENT_TAG,
                "sender": match["assigner"] or match["sender"],
            }
            if match["assigner"] is None:
                pending["text"] = match["summary"]
                pending["task_id"] = ""
            continue
        if pending is None:
            continue
        if (task := _TASK_ID.match(line)) is not None:
            pending["task_id"] = task["id"]
        elif (desc := _DESCRIPTION.match(line)) is not None:
            pending["text"] = desc["text"]
    flush()
    return items


def parse_backlog(prompt: str) -> list[ParsedBacklogTask]:
    """The role-matching backlog tasks listed in the prompt's backlog snapshot."""
    out: list[ParsedBacklogTask] = []
    for line in _section(prompt, "## Backlog Snapshot"):
        match = _BACKLOG_ITEM.match(line)
        if match:
            out.append(ParsedBacklogTask(match["id"], match["text"]))
    return out
