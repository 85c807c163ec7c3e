"""Tinytown: simple multi-agent orchestration using Redis, on Trio.

The public API::

    async with Town.connect(".") as town:
        worker = await town.spawn_agent("worker-1", "claude")  # runs it, as tt spawn
        await worker.assign(Task.new("Implement the login API"))

Names are imported lazily so that ``import tinytown`` (and ``tt --help``)
stays cheap: Trio and the Redis client load only when used.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing costs more than the tt client's whole work

__version__ = "0.10.0"

_EXPORTS = {
    "Town": "tinytown.api",
    "AgentHandle": "tinytown.api",
    "Channel": "tinytown.channel",
    "TownConfig": "tinytown.config",
    "Agent": "tinytown.models",
    "AgentId": "tinytown.models",
    "AgentState": "tinytown.models",
    "AgentType": "tinytown.models",
    "Task": "tinytown.models",
    "TaskId": "tinytown.models",
    "TaskState": "tinytown.models",
    "Message": "tinytown.models",
    "MessageId": "tinytown.models",
    "MessageType": "tinytown.models",
    "ConfirmationType": "tinytown.models",
    "Priority": "tinytown.models",
    "SUPERVISOR": "tinytown.models",
    "TinytownError": "tinytown.errors",
}

__all__ = [
    "SUPERVISOR",
    "Agent",
    "AgentHandle",
    "AgentId",
    "AgentState",
    "AgentType",
    "Channel",
    "ConfirmationType",
    "Message",
    "MessageId",
    "MessageType",
    "Priority",
    "Task",
    "TaskId",
    "TaskState",
    "TinytownError",
    "Town",
    "TownConfig",
    "__version__",
]

if TYPE_CHECKING:
    from typing import Any

    from tinytown.api import AgentHandle, Town
    from tinytown.channel import Channel
    from tinytown.config import TownConfig
    from tinytown.errors import TinytownError
    from tinytown.models import (
        SUPERVISOR,
        Agent,
        AgentId,
        AgentState,
        AgentType,
        ConfirmationType,
        Message,
        MessageId,
        MessageType,
        Priority,
        Task,
        TaskId,
        TaskState,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tinytown' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
