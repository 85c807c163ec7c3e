"""Every Redis key tinytown uses. No other module spells a key.

``<town>`` is the town name verbatim; ``<id>`` a lowercase hyphenated UUID.

=========================================  ==========  ============================================
Key                                        Type        Contents
=========================================  ==========  ============================================
``tt:<town>:agent:<agent_id>``             hash        agent record
``tt:<town>:inbox:<agent_id>``             list        message JSON; head = next to process
``tt:<town>:urgent:<agent_id>``            list        urgent message JSON (LPUSH / LPOP)
``tt:<town>:processing:<agent_id>``        list        (ours) messages taken by the runtime,
                                                       not yet acknowledged
``tt:<town>:inflight:<agent_id>``          string      (ours) how many messages at the head of
                                                       processing came from the urgent queue
``tt:<town>:batch:<agent_id>``             string      (ours) the batch in processing:
                                                       ``open:<n>`` until settled, then ``done:<n>``
``tt:<town>:deadletter:<agent_id>``        list        (ours) poison messages set aside, JSON
                                                       ``{"reason", "at", "message"}``, oldest first
``tt:<town>:activity:<agent_id>``          list        activity lines, newest first, 10 kept,
                                                       EXPIRE 3600 s
``tt:<town>:stop:<agent_id>``              string      ``"1"`` EX 3600: stop at next round
``tt:<town>:task:<task_id>``               hash        task record
``tt:<town>:backlog``                      list        task ids, FIFO
``tt:<town>:epoch``                        string      (ours) the town's epoch, also in
                                                       ``.tt/town.json`` (:mod:`tinytown.epoch`)
``tt:<town>:names``                        hash        (ours) agent name -> id of the agent that
                                                       last reserved it (see below)
``tt:<town>:broadcast``                    pub/sub     message JSON
``tt:<town>:events``                       stream      town events, MAXLEN ~ 1000
``tt:<town>:events:agent:<agent_id>``      stream      agent events, MAXLEN ~ 100
``tt:<town>:events:mission:<mission_id>``  stream      mission events, MAXLEN ~ 500
``tt:<town>:docket:tasks``                 stream      optional stream dispatch
``tt:<town>:docket:events``                stream      task life-cycle log
``tt:<town>:runtime:<host>``               string      (ours) runtime liveness: pid, EX 30 s
``tt:<town>:runtime:<host>:control``       list        (ours) commands for that host's runtime
``tt:<town>:capacity:<host>``              string      (ours) how many agents that host's runtime
                                                       can host (its open-file limit)
``tt:<town>:mission:<mission_id>``         string      MissionRun JSON
``tt:<town>:mission:<mission_id>:work``    hash        work items
``tt:<town>:mission:<mission_id>:watch``   hash        watch items
``tt:<town>:mission:<mission_id>:events``  list        mission log lines, newest first, 100 kept
``tt:<town>:mission:<mission_id>:control`` hash        operator notes for the dispatcher
``tt:<town>:mission:<mission_id>:dispatch_lock``  string  dispatcher lease owner token, EX 90 s
``tt:<town>:mission:active``               set         active mission ids
``tt:agent:<id>`` … ``tt:backlog``          (legacy)    pre-isolation keys, read by ``tt migrate``
=========================================  ==========  ============================================

The name index ``tt:<town>:names`` makes lookup by name O(1) and spawn's
name reservation atomic: the scripts that create an agent (spawn), revive one
(restart) and remove one (prune) update it in the same script
(:mod:`tinytown.scripts`). At most one *live* (not Stopped/Error/Cold) agent
holds a name, and the index points at it; an entry whose agent is terminal,
gone or renamed is stale and is overwritten by the next reservation. tinytown
0.10 does not maintain the index, so a miss (or a stale entry) is answered by
a scan of the agent records, which also repairs the entry.
"""

from __future__ import annotations

from typing import Final

import attrs

ACTIVITY_KEEP: Final = 10
ACTIVITY_TTL_S: Final = 3600
STOP_TTL_S: Final = 3600
EVENTS_MAXLEN: Final = 1000
AGENT_EVENTS_MAXLEN: Final = 100
MISSION_EVENTS_MAXLEN: Final = 500
MISSION_LOG_KEEP: Final = 100
MISSION_KEY_SUFFIXES: Final = (":work", ":watch", ":events", ":control", ":dispatch_lock")

LEGACY_ID_KINDS: Final = ("agent", "inbox", "urgent", "task", "activity", "stop")
LEGACY_BACKLOG: Final = "tt:backlog"
LEGACY_BROADCAST: Final = "tt:broadcast"


_GLOB_SPECIALS: Final = frozenset("*?[]\\")


def glob_escape(text: str) -> str:
    """Escape Redis glob characters, so ``text`` matches only itself in ``KEYS``/``SCAN MATCH``."""
    return "".join(f"\\{ch}" if ch in _GLOB_SPECIALS else ch for ch in text)


def legacy_pattern(kind: str) -> str:
    """``tt:<kind>:*`` — pre-isolation keys of one kind."""
    return f"tt:{kind}:*"


@attrs.frozen
class Keys:
    """Key builder for one town; ids are passed as anything whose ``str`` is the UUID."""

    town: str
    prefix: str = attrs.field(init=False)

    @prefix.default
    def _prefix(self) -> str:
        return f"tt:{self.town}:"

    def agent(self, agent_id: object) -> str:
        return f"{self.prefix}agent:{agent_id}"

    def inbox(self, agent_id: object) -> str:
        return f"{self.prefix}inbox:{agent_id}"

    def urgent(self, agent_id: object) -> str:
        return f"{self.prefix}urgent:{agent_id}"

    def processing(self, agent_id: object) -> str:
        return f"{self.prefix}processing:{agent_id}"

    def inflight_urgent(self, agent_id: object) -> str:
        return f"{self.prefix}inflight:{agent_id}"

    def batch(self, agent_id: object) -> str:
        return f"{self.prefix}batch:{agent_id}"

    def deadletter(self, agent_id: object) -> str:
        return f"{self.prefix}deadletter:{agent_id}"

    def activity(self, agent_id: object) -> str:
        return f"{self.prefix}activity:{agent_id}"

    def stop(self, agent_id: object) -> str:
        return f"{self.prefix}stop:{agent_id}"

    def agent_keys(self, agent_id: object) -> tuple[str, ...]:
        """Every key that belongs to one agent (what removing the agent deletes)."""
        return (
            self.agent(agent_id),
            self.inbox(agent_id),
            self.urgent(agent_id),
            self.processing(agent_id),
            self.inflight_urgent(agent_id),
            self.batch(agent_id),
            self.deadletter(agent_id),
            self.activity(agent_id),
            self.stop(agent_id),
            self.agent_events(agent_id),
        )

    def task(self, task_id: object) -> str:
        return f"{self.prefix}task:{task_id}"

    @property
    def backlog(self) -> str:
        return f"{self.prefix}backlog"

    @property
    def epoch(self) -> str:
        """The town's epoch: a missing one means its Redis lost the town (see tinytown.epoch)."""
        return f"{self.prefix}epoch"

    @property
    def names(self) -> str:
        """The name index: hash of agent name -> agent id (see the module docstring)."""
        return f"{self.prefix}names"

    @property
    def broadcast(self) -> str:
        return f"{self.prefix}broadcast"

    @property
    def events(self) -> str:
        return f"{self.prefix}events"

    def agent_events(self, agent_id: object) -> str:
        return f"{self.prefix}events:agent:{agent_id}"

    def mission_events_stream(self, mission_id: object) -> str:
        return f"{self.prefix}events:mission:{mission_id}"

    @property
    def docket_tasks(self) -> str:
        return f"{self.prefix}docket:tasks"

    @property
    def docket_events(self) -> str:
        return f"{self.prefix}docket:events"

    def runtime(self, host: str) -> str:
        return f"{self.prefix}runtime:{host}"

    def capacity(self, host: str) -> str:
        return f"{self.prefix}capacity:{host}"

    def runtime_control(self, host: str) -> str:
        return f"{self.prefix}runtime:{host}:control"

    def mission(self, mission_id: object) -> str:
        return f"{self.prefix}mission:{mission_id}"

    def mission_work(self, mission_id: object) -> str:
        return f"{self.prefix}mission:{mission_id}:work"

    def mission_watch(self, mission_id: object) -> str:
        return f"{self.prefix}mission:{mission_id}:watch"

    def mission_control(self, mission_id: object) -> str:
        return f"{self.prefix}mission:{mission_id}:control"

    def mission_log(self, mission_id: object) -> str:
        """``…:mission:<id>:events``: the mission's log lines (a list, not the event stream)."""
        return f"{self.prefix}mission:{mission_id}:events"

    def mission_dispatch_lock(self, mission_id: object) -> str:
        return f"{self.prefix}mission:{mission_id}:dispatch_lock"

    @property
    def mission_active(self) -> str:
        return f"{self.prefix}mission:active"

    def mission_keys(self, mission_id: object) -> tuple[str, ...]:
        """Every key that belongs to one mission (what deleting it removes)."""
        return (
            self.mission(mission_id),
            self.mission_work(mission_id),
            self.mission_watch(mission_id),
            self.mission_log(mission_id),
            self.mission_control(mission_id),
            self.mission_dispatch_lock(mission_id),
        )

    # --- scan patterns ---------------------------------------------------------

    @property
    def all_pattern(self) -> str:
        return f"{self.prefix}*"

    def pattern(self, kind: str) -> str:
        """``tt:<town>:<kind>:*`` for kind in agent, inbox, urgent, processing, stop, task…"""
        return f"{self.prefix}{kind}:*"

    def scan_pattern(self, kind: str) -> str:
        """:meth:`pattern` with the town name glob-escaped: only this town's keys match.

        A town name may hold glob characters (``my[app]``, ``a*``); unescaped,
        its pattern would miss its own keys and match other towns'.
        """
        return f"{glob_escape(self.prefix)}{kind}:*"

    def prefix_pattern(self, kind: str, id_prefix: str) -> str:
        """Keys of one kind whose id starts with ``id_prefix`` (both glob-escaped)."""
        return f"{glob_escape(self.prefix)}{kind}:{glob_escape(id_prefix)}*"

    def id_from_key(self, key: str, kind: str) -> str:
        """The trailing id of ``tt:<town>:<kind>:<id>``."""
        return key[len(self.prefix) + len(kind) + 1 :]

    def migrated(self, legacy_key: str) -> str:
        """Map a pre-isolation key (``tt:<kind>:<id>`` or ``tt:backlog``) into this town."""
        return f"{self.prefix}{legacy_key[3:]}"
