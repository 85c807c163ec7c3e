"""Every Lua script tinytown runs, built from the state enums and the ``keys`` constants.

A state is spelled by its enum (``TaskState.RUNNING``), never as a literal, and
which task states a script accepts comes from :data:`~tinytown.models.TASK_MOVES`,
the table :meth:`~tinytown.models.TaskState.can_become` reads: the Python side
and the server side share one state machine. The activity list has one writer,
:data:`PUSH_ACTIVITY` (with its Lua twin inside the scripts that log a line).

The scripts are grouped by what they change: :mod:`.agents` (agent records and
the name index), :mod:`.tasks` (tasks, their queues, queries), :mod:`.delivery`
(the runtime's liveness and one actor's incarnation-checked writes), and
:mod:`.common` (result codes, shared Lua fragments, the activity writer). Import
them from here.

Each script's comment gives its ``KEYS`` and ``ARGV``. Call a script with
``await SCRIPT(redis, keys, args)``; inside a ``MULTI`` pipeline, queue it with
``SCRIPT.queue(pipe, keys, args)`` (full source: no ``NOSCRIPT`` retry there).
"""

from __future__ import annotations

from tinytown.scripts.agents import (
    AGENT_TRANSITION,
    CREATE_AGENT,
    DELETE_AGENT_IF_DRAINED,
    DELETE_AGENT_IF_STATE,
    REPAIR_NAME,
    REVIVE_AGENT,
    UPDATE_IF_EXISTS,
)
from tinytown.scripts.common import (
    ALREADY_SETTLED,
    PUSH_ACTIVITY,
    RELEASE_IF_HELD,
    SUPERSEDED,
    lua_set,
    sources,
)
from tinytown.scripts.delivery import (
    BEAT,
    CLAIM_INCARNATION,
    CLAIM_LIVENESS,
    DISCARD_FROM_BATCH,
    REVERT_TASK,
    SETTLE_BATCH,
    START_TASK,
    TAKE_BATCH,
    UPDATE_AGENT_IF,
)
from tinytown.scripts.tasks import (
    ANSWER_QUERY,
    ASSIGN_IF_OPEN,
    CREDIT_ASSIGNEE,
    DROP_ASSIGNMENTS,
    MOVE_ENTRY,
    RECLAIM_TO_BACKLOG,
    RECOVER_TASK,
    REMOVE_BACKLOG_TASK,
    REQUEUE_PROCESSING,
)

# One compare-and-delete under the names its two users knew it by.
RELEASE_LIVENESS = RELEASE_IF_HELD
RELEASE_LEASE = RELEASE_IF_HELD

__all__ = [
    "AGENT_TRANSITION", "ALREADY_SETTLED", "ANSWER_QUERY", "ASSIGN_IF_OPEN", "BEAT",
    "CLAIM_INCARNATION", "CLAIM_LIVENESS", "CREATE_AGENT", "CREDIT_ASSIGNEE",
    "DELETE_AGENT_IF_DRAINED", "DELETE_AGENT_IF_STATE", "DISCARD_FROM_BATCH", "DROP_ASSIGNMENTS",
    "MOVE_ENTRY", "PUSH_ACTIVITY", "RECLAIM_TO_BACKLOG", "RECOVER_TASK", "RELEASE_IF_HELD",
    "RELEASE_LEASE", "RELEASE_LIVENESS", "REMOVE_BACKLOG_TASK", "REPAIR_NAME",
    "REQUEUE_PROCESSING", "REVERT_TASK", "REVIVE_AGENT", "SETTLE_BATCH", "START_TASK",
    "SUPERSEDED", "TAKE_BATCH", "UPDATE_AGENT_IF", "UPDATE_IF_EXISTS", "lua_set", "sources"
]  # fmt: skip
