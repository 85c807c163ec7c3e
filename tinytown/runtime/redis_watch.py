"""The runtime's watch on its town's Redis (issue 10 item 1).

When the town's own Redis goes away (a crash, ``SIGKILL``, the OOM killer),
the runtime does not wait for a CLI call: it restarts the server from its
persistence files in ``.tt/`` and its actors carry on. Then it checks the
town's epoch (:mod:`tinytown.epoch`): a server that came back *empty* is
reported loudly and the runtime ends rather than serve an emptied town.

While Redis is down, the runtime logs one line per change of state (down,
restart failed with a new reason, back), not one per failed command: other
warnings from the runtime are held back by :class:`QuietWhileDown` until the
server answers again. Actors that crash because the connection was lost wait
for :meth:`RedisWatch.wait_up` instead of spending their restart budget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio

from tinytown.epoch import check_epoch
from tinytown.errors import TinytownError, TownDataLostError
from tinytown.redis import probe
from tinytown.town import Town
from tinytown.town_redis import ensure_server

log = logging.getLogger("tinytown.runtime.redis")

CHECK_INTERVAL_S = 0.5
PING_TIMEOUT_S = 2.0


class QuietWhileDown(logging.Filter):
    """Drops runtime warnings while Redis is known to be down (the watch logs for them)."""

    def __init__(self, watch: RedisWatch) -> None:
        super().__init__()
        self._watch = watch

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._watch.is_down or record.name == log.name:
            return True
        return not (record.name.startswith("tinytown") and record.levelno <= logging.WARNING)


class RedisWatch:
    """Pings the town's Redis; restarts a managed one; tells who waits when it is back.

    Args:
        town: the runtime's connected town.
        on_lost: called with a message when the server came back without the town's data.
        interval_s: time between checks.
    """

    def __init__(
        self,
        town: Town,
        on_lost: Callable[[str], None],
        *,
        interval_s: float = CHECK_INTERVAL_S,
    ) -> None:
        self.town = town
        self.on_lost = on_lost
        self.interval_s = interval_s
        self._up = trio.Event()
        self._up.set()
        self._last_problem = ""
        self.restarts = 0

    @property
    def is_down(self) -> bool:
        return not self._up.is_set()

    async def wait_up(self) -> None:
        """Return once Redis answers (at once when it is not known to be down)."""
        await self._up.wait()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Check forever; install :class:`QuietWhileDown` on the log handlers meanwhile."""
        quiet = QuietWhileDown(self)
        handlers = [*logging.getLogger().handlers, *logging.getLogger("tinytown").handlers]
        for handler in handlers:
            handler.addFilter(quiet)
        try:
            task_status.started()
            while True:
                await trio.sleep(self.interval_s)
                await self.check()
        finally:
            for handler in handlers:
                handler.removeFilter(quiet)

    async def check(self) -> None:
        """One check: note a state change, restart a managed server, check the epoch."""
        if await self._answers():
            if self.is_down:
                await self._back()
            return
        if not self.is_down:
            self._up = trio.Event()
            managed = self.town.target.managed
            log.warning("the town's Redis is not answering; %s",
                        "restarting it from .tt/" if managed else "waiting for it")
        if self.town.target.managed:
            await self._restart()

    async def _answers(self) -> bool:
        target = self.town.target
        if target.managed and target.socket_path is not None:
            command = probe.with_auth([("PING",)], target.password)
            replies = await probe.query(target.socket_path, command) or []
            return probe.pong(replies) or probe.refused(replies, "NOAUTH")
        with trio.move_on_after(PING_TIMEOUT_S):
            try:
                await self.town.redis.execute("PING")
            except TinytownError:
                return False
            return True
        return False

    async def _restart(self) -> None:
        town = self.town
        target = town.target
        if probe.alive(await probe.query(target.socket_path or town.root, [("PING",)])):
            return  # a server is there (loading its files): wait for it to answer
        try:
            await ensure_server(town.root, town.config, target)
        except TinytownError as exc:
            problem = f"could not restart the town's Redis: {exc}"
            if problem != self._last_problem:  # one line per new reason
                log.error("%s", problem)
                self._last_problem = problem
            return
        self.restarts += 1

    async def _back(self) -> None:
        try:
            await check_epoch(self.town.redis, self.town.channel.keys, self.town.root)
        except TownDataLostError as exc:
            log.error("%s", exc)
            self.on_lost(str(exc))
            return
        except TinytownError:
            return  # not quite back yet: the next check tries again
        log.warning("the town's Redis is back%s",
                    " (restarted from .tt/ by this runtime)" if self.restarts else "")
        self._last_problem = ""
        self._up.set()
