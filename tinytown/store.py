"""Agent and task records, the backlog, stop flags and activity logs in Redis.

Records are hashes written as 0.10 does (``HDEL`` of empty optionals + one
``HSET``). Field updates (:meth:`RecordStore.update_agent`) touch only the named
fields, atomically and only if the record exists, so a heartbeat never
overwrites a concurrent state change. Listings cost a constant number of round
trips whatever the number of records, and skip corrupt records with a warning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tinytown.codec import (
    agent_from_hash,
    agent_to_hash,
    field_text,
    pairs_to_dict,
    queue_hash_write,
    task_from_hash,
    task_to_hash,
)
from tinytown.errors import (
    AgentExistsError,
    AgentNotFoundError,
    CorruptRecordError,
    InvalidInputError,
    ResponseError,
    TaskNotFoundError,
)
from tinytown.keys import Keys
from tinytown.models import Agent, AgentId, AgentState, Task, TaskId
from tinytown.redis.client import Redis
from tinytown.scripts import (
    CREATE_AGENT,
    DELETE_AGENT_IF_STATE,
    PUSH_ACTIVITY,
    REPAIR_NAME,
    REVIVE_AGENT,
    UPDATE_IF_EXISTS,
)

log = logging.getLogger("tinytown")

class RecordStore:
    """Record operations shared by :class:`tinytown.channel.Channel`."""

    def __init__(self, redis: Redis, town: str) -> None:
        self.redis = redis
        self.town = town
        self.keys = Keys(town)

    # --- agents -------------------------------------------------------------------

    async def create_agent(self, agent: Agent) -> None:
        """Write a new agent record, reserving its name atomically (:mod:`tinytown.scripts`).

        Raises:
            AgentExistsError: a live agent already has this name (nothing is written).
        """
        candidates = await self._name_candidates(agent.name, agent.id)
        fields, _ = agent_to_hash(agent)
        head = _reservation_args(agent.name, agent.id, self._agent_prefix, candidates)
        keys = [self.keys.names, self.keys.agent(agent.id)]
        pairs = [x for pair in fields.items() for x in pair]
        taken = await CREATE_AGENT(self.redis, keys, [*head, *pairs])
        if taken:
            raise await self._name_taken(agent.name, taken)

    async def revive_agent(
        self, agent: Agent, *, now: datetime, rounds: int, host: str, activity: str
    ) -> str:
        """Make a terminal agent ``idle`` again if no other live agent holds its name.

        Returns ``''`` on success, ``'-'`` when the record is gone, else the
        agent's current (live) state.

        Raises:
            AgentExistsError: another live agent holds the name.
        """
        aid = agent.id
        candidates = await self._name_candidates(agent.name, aid)
        head = _reservation_args(agent.name, aid, self._agent_prefix, candidates)
        keys = [self.keys.names, self.keys.agent(aid), self.keys.stop(aid), self.keys.activity(aid)]
        result: str = await REVIVE_AGENT(
            self.redis, keys, [*head, field_text(now), rounds, host, activity]
        )
        if result.startswith("="):
            raise await self._name_taken(agent.name, result[1:])
        return result

    async def live_agent_id(self, name: str) -> AgentId | None:
        """The live agent named exactly ``name``: O(1) through the name index.

        On a miss or a stale entry (tinytown 0.10 does not maintain the index)
        the agent records are scanned and the entry is repaired.
        """
        indexed = await self._indexed_id(name)
        if indexed is not None:
            agent = await self._get_agent_or_none(indexed)
            if agent is not None and agent.name == name and not agent.state.is_terminal:
                return agent.id
        for agent in await self.list_agents():
            if agent.name == name and not agent.state.is_terminal:
                head = _reservation_args(name, agent.id, self._agent_prefix, [])
                await REPAIR_NAME(self.redis, [self.keys.names], head)
                return agent.id
        return None

    async def require_name_free(self, name: str) -> None:
        """Raise AgentExistsError if a live agent is named ``name`` (a check, not a reservation)."""
        holder = await self.live_agent_id(name)
        if holder is not None:
            raise await self._name_taken(name, str(holder))

    async def set_agent(self, agent: Agent) -> None:
        """Write the whole agent record (an existing agent's; new ones go through create_agent)."""
        pipe = self.redis.pipeline()
        queue_hash_write(pipe, self.keys.agent(agent.id), *agent_to_hash(agent))
        await pipe.execute()

    async def get_agent(self, agent_id: AgentId) -> Agent | None:
        key = self.keys.agent(agent_id)
        fields = pairs_to_dict(await self.redis.execute("HGETALL", key))
        return agent_from_hash(fields, key) if fields else None

    async def require_agent(self, agent_id: AgentId) -> Agent:
        agent = await self.get_agent(agent_id)
        if agent is None:
            raise AgentNotFoundError(str(agent_id))
        return agent

    async def update_agent(self, agent_id: AgentId, **fields: object) -> bool:
        """Set some fields of an existing agent (``None`` deletes a field).

        Returns False when the agent does not exist (nothing is written).
        """
        dels = [k for k, v in fields.items() if v is None]
        sets = [x for k, v in fields.items() if v is not None for x in (k, field_text(v))]
        args: list[str | int] = [len(dels), *dels, *sets]
        return bool(await UPDATE_IF_EXISTS(self.redis, [self.keys.agent(agent_id)], args))

    async def set_agent_state(self, agent_id: AgentId, state: AgentState) -> None:
        """Change only the state field; AgentNotFoundError if there is no such agent."""
        if not await self.update_agent(agent_id, state=state):
            raise AgentNotFoundError(str(agent_id))

    async def get_agent_state(self, agent_id: AgentId) -> AgentState | None:
        raw = await self.redis.execute("HGET", self.keys.agent(agent_id), "state")
        if raw is None:
            return None
        try:
            return AgentState(raw)
        except ValueError:
            return AgentState.STARTING

    async def list_agents(self) -> list[Agent]:
        """Every readable agent record, sorted by creation time (2 round trips)."""
        agents = await self._list(self.keys.scan_pattern("agent"), agent_from_hash)
        agents.sort(key=lambda a: (a.created_at, a.name))
        return agents

    async def remove_agent(self, agent_id: AgentId, states: Sequence[AgentState] = ()) -> bool:
        """Remove the agent (its queues, flags, activity, event stream and name-index entry)
        if its state is one of ``states`` (any when empty), atomically.

        Returns whether it was removed.
        """
        return (await self.remove_agents([agent_id], states))[0]

    async def remove_agents(
        self, agent_ids: Sequence[AgentId], states: Sequence[AgentState] = ()
    ) -> list[bool]:
        """:meth:`remove_agent` for many agents in one round trip (one script each)."""
        pipe = self.redis.pipeline()
        for aid in agent_ids:
            keys = [self.keys.names, *self.keys.agent_keys(aid)]
            DELETE_AGENT_IF_STATE.queue(pipe, keys, [str(aid), *(s.value for s in states)])
        return [bool(ok) for ok in await pipe.execute()]

    # --- name index helpers -----------------------------------------------------------

    @property
    def _agent_prefix(self) -> str:
        return self.keys.agent("")

    async def indexed_agent(self, name: str) -> Agent | None:
        """The live agent named exactly ``name`` by the name index alone (no scan); None on a
        miss or a stale entry. Two round trips whatever the number of agents."""
        indexed = await self._indexed_id(name)
        if indexed is None:
            return None
        agent = await self._get_agent_or_none(indexed)
        if agent is None or agent.name != name or agent.state.is_terminal:
            return None
        return agent

    async def _indexed_id(self, name: str) -> str | None:
        """The id the index holds for ``name`` (maybe stale), None on a miss."""
        try:
            value = await self.redis.execute("HGET", self.keys.names, name)
        except ResponseError:  # a wrong-typed index reads as a miss; the scripts rebuild it
            return None
        return value if isinstance(value, str) and value else None

    async def _get_agent_or_none(self, agent_id: str) -> Agent | None:
        try:
            return await self.get_agent(AgentId.parse(agent_id))
        except (InvalidInputError, CorruptRecordError, ResponseError):
            return None

    async def _name_candidates(self, name: str, agent_id: AgentId) -> list[AgentId]:
        """Live agents named ``name`` that the index may not know (0.10 writes none there)."""
        indexed = await self._indexed_id(name)
        if indexed is not None and indexed != str(agent_id):
            agent = await self._get_agent_or_none(indexed)
            if agent is not None and agent.name == name and not agent.state.is_terminal:
                return []  # the script sees the indexed holder itself
        return [
            a.id
            for a in await self.list_agents()
            if a.name == name and a.id != agent_id and not a.state.is_terminal
        ]

    async def _name_taken(self, name: str, holder: str) -> AgentExistsError:
        agent = await self._get_agent_or_none(holder)
        what = f"{agent.state.label}, id {agent.short_id}" if agent else f"id {holder[:8]}"
        return AgentExistsError(
            f"Agent '{name}' already exists ({what}); kill it first or choose another name"
        )

    # --- tasks -----------------------------------------------------------------------

    async def set_task(self, task: Task) -> None:
        await self.set_tasks([task])

    async def set_tasks(self, tasks: Iterable[Task]) -> None:
        """Write many task records in one round trip."""
        pipe = self.redis.pipeline()
        for task in tasks:
            queue_hash_write(pipe, self.keys.task(task.id), *task_to_hash(task))
        if len(pipe):
            await pipe.execute()

    async def get_task(self, task_id: TaskId) -> Task | None:
        key = self.keys.task(task_id)
        fields = pairs_to_dict(await self.redis.execute("HGETALL", key))
        return task_from_hash(fields, key) if fields else None

    async def require_task(self, task_id: TaskId) -> Task:
        task = await self.get_task(task_id)
        if task is None:
            raise TaskNotFoundError(str(task_id))
        return task

    async def get_tasks(self, task_ids: Sequence[TaskId]) -> dict[TaskId, Task]:
        """Several tasks in one round trip; missing and corrupt ones are left out."""
        if not task_ids:
            return {}
        pipe = self.redis.pipeline()
        for tid in task_ids:
            pipe.cmd("HGETALL", self.keys.task(tid))
        out: dict[TaskId, Task] = {}
        replies = await pipe.execute(raise_on_error=False)  # a non-hash key is corrupt too
        for tid, reply in zip(task_ids, replies, strict=True):
            task = _decode_or_warn(reply, self.keys.task(tid), task_from_hash)
            if task is not None:
                out[tid] = task
        return out

    async def list_tasks(self) -> list[Task]:
        """Every readable task record, oldest first (2 round trips)."""
        tasks = await self._list(self.keys.scan_pattern("task"), task_from_hash)
        tasks.sort(key=lambda t: t.created_at)
        return tasks

    async def delete_task(self, task_id: TaskId) -> None:
        await self.redis.execute("DEL", self.keys.task(task_id))

    # --- backlog ---------------------------------------------------------------------

    async def backlog_push(self, task_id: TaskId) -> None:
        await self.redis.execute("RPUSH", self.keys.backlog, str(task_id))

    async def backlog_list(self) -> list[TaskId]:
        """Backlog task ids, head first; a backlog key of the wrong type reads as empty."""
        try:
            raw: list[str] = await self.redis.execute("LRANGE", self.keys.backlog, 0, -1)
        except ResponseError as exc:
            log.warning("skipping %s: %s", self.keys.backlog, exc)
            return []
        out = []
        for item in raw:
            try:
                out.append(TaskId.parse(item))
            except InvalidInputError:
                log.warning("skipping non-UUID backlog entry %r", item)
        return out

    async def backlog_remove(self, task_id: TaskId) -> bool:
        return bool(await self.redis.execute("LREM", self.keys.backlog, 1, str(task_id)))

    async def backlog_len(self) -> int:
        try:
            n: int = await self.redis.execute("LLEN", self.keys.backlog)
        except ResponseError as exc:
            log.warning("skipping %s: %s", self.keys.backlog, exc)
            return 0
        return n

    # --- stop flags and activity ------------------------------------------------------

    async def runtime_command(self, host: str, command: Mapping[str, object]) -> None:
        """Queue a command (JSON object with an ``op``) for the runtime of ``host``."""
        payload = json.dumps(dict(command), separators=(",", ":"))
        await self.redis.execute("RPUSH", self.keys.runtime_control(host), payload)

    async def should_stop(self, agent_id: AgentId) -> bool:
        return bool(await self.redis.execute("EXISTS", self.keys.stop(agent_id)))

    async def log_activity(self, agent_id: AgentId, line: str) -> None:
        """Log one activity line (newest first, a bounded and expiring list).

        Raises:
            ResponseError: ``WRONGTYPE``, the activity key holds another type (nothing written).
        """
        key = self.keys.activity(agent_id)
        if not await PUSH_ACTIVITY(self.redis, [key], [line]):
            raise ResponseError(f"WRONGTYPE {key} is not a list; activity line not recorded")

    async def recent_activity(self, agent_id: AgentId, n: int = 5) -> list[str]:
        """Newest first."""
        key = self.keys.activity(agent_id)
        lines: list[str] = await self.redis.execute("LRANGE", key, 0, n - 1)
        return lines

    # --- helpers ---------------------------------------------------------------------

    async def _list(self, pattern: str, decode: Any) -> list[Any]:
        keys: list[str] = await self.redis.execute("KEYS", pattern)
        if not keys:
            return []
        pipe = self.redis.pipeline()
        for key in keys:
            pipe.cmd("HGETALL", key)
        replies = await pipe.execute(raise_on_error=False)
        out = []
        for key, reply in zip(keys, replies, strict=True):
            record = _decode_or_warn(reply, key, decode)
            if record is not None:
                out.append(record)
        return out


def _reservation_args(
    name: str, agent_id: object, prefix: str, candidates: Sequence[object]
) -> list[str]:
    """The ARGV head of the name-reserving scripts (see :mod:`tinytown.scripts`)."""
    return [name, str(agent_id), prefix, str(len(candidates)), *map(str, candidates)]


def _decode_or_warn(reply: Any, key: str, decode: Any) -> Any:
    if isinstance(reply, Exception):
        log.warning("skipping %s: %s", key, reply)
        return None
    fields = pairs_to_dict(reply)
    if not fields:
        return None
    try:
        return decode(fields, key)
    except CorruptRecordError as exc:
        log.warning("skipping corrupt record: %s", exc)
        return None

