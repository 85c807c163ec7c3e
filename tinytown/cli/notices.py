"""What the user must be told when work will not run (see :mod:`tinytown.runtime.strands`).

``status``, ``list`` and ``inbox`` end with :func:`strand_lines` (stdout, part
of the overview); ``assign`` and ``send`` call :func:`after_queueing`, which
starts a runtime that is down and warns on stderr about a recipient that will
not run what it was sent (their stdout stays the book's one line).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tinytown.cli.output import warn

if TYPE_CHECKING:
    from tinytown.models import Agent
    from tinytown.runtime.strands import RuntimeHealth
    from tinytown.town import Town

Pending = Sequence[tuple["Agent", int]]
"""Agents with their number of queued messages (inbox, urgent, in progress)."""


def runtime_lines(health: RuntimeHealth) -> list[str]:
    """The warning about a runtime that is down, or nothing."""
    if not health.down:
        return []
    gone = f" (pid {health.stale_pid} is gone)" if health.stale_pid is not None else ""
    return [
        f"⚠️  Runtime: not running on this host{gone}; {len(health.waiting)} agent(s) "
        "will not run until it starts.",
        "   Start it with 'tt start --detach' ('tt assign', 'send', 'spawn' and 'restart' "
        "start it too).",
    ]


def stranded(pending: Pending, health: RuntimeHealth) -> list[tuple[Agent, int, str]]:
    """Agents with queued messages that will not run them, and why."""
    from tinytown.runtime.strands import idle_reason

    out = []
    for agent, queued in pending:
        if queued <= 0:
            continue
        reason = idle_reason(agent, health)
        if reason is not None:
            out.append((agent, queued, reason))
    return out


def strand_lines(pending: Pending, health: RuntimeHealth) -> list[str]:
    """Every warning line for the overview commands."""
    lines = runtime_lines(health)
    for agent, queued, reason in stranded(pending, health):
        if health.down and agent.host == health.host:
            continue  # the runtime line above says it
        lines.append(
            f"⚠️  {agent.name} ({agent.state.label}) has {queued} pending message(s) "
            f"that will not run: {reason}"
        )
    return lines


def strand_doc(pending: Pending, health: RuntimeHealth) -> dict[str, Any]:
    """The ``runtime`` and ``stranded`` entries of the ``--json`` documents."""
    return {
        "runtime": {
            "host": health.host,
            "running": health.pid is not None,
            "pid": health.pid,
            "stale_pid": health.stale_pid,
            "waiting": [a.name for a in health.waiting],
        },
        "stranded": [
            {"id": str(a.id), "name": a.name, "state": a.state.value, "pending": n, "reason": r}
            for a, n, r in stranded(pending, health)
        ],
    }


async def after_queueing(town: Town, agent: Agent | None) -> None:
    """After work was queued for ``agent``: start what must run it, warn if nothing will."""
    from tinytown.errors import TinytownError
    from tinytown.runtime.strands import ensure_runtime_for, idle_reason, runtime_health

    if agent is None:
        return
    try:
        started = await ensure_runtime_for(town, agent)
    except TinytownError as exc:  # the work is queued; say why it does not run yet
        warn(f"⚠️  Could not start the town's runtime: {exc}")
        return
    if started is not None:
        warn(f"🚀 The town's runtime was not running; started it (pid {started})")
        return
    reason = idle_reason(agent, await runtime_health(town, [agent]))
    if reason is not None:
        warn(f"⚠️  '{agent.name}' will not run this yet: {reason}")
