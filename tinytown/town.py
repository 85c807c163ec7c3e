"""The Town: a directory with ``tinytown.toml``, its Redis and its agents.

This is the town every service works on: its config, its Redis client and
its :class:`~tinytown.channel.Channel`. The public Python API
(:mod:`tinytown.api`, exported as ``tinytown.Town``) adds the business verbs
on top, each a call of the service the CLI uses.

``Town.init`` and ``Town.connect`` return a :class:`TownOpening`: use it with
``async with`` (closed on exit) or ``await`` it (then ``await town.aclose()``,
or ``async with town``). They start the town's own Redis when the config says
tinytown manages it and it is not running. ``connect`` leaves Redis running
when it closes (other commands and the runtime share it); ``init`` with
``keep_redis=False`` stops the Redis it started; :meth:`Town.stop_redis` stops
it at any time.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Generator, Mapping
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Final, Generic, Self, TypeVar

import trio

from tinytown.channel import Channel
from tinytown.config import (
    RedisTarget,
    TownConfig,
    load_town_config,
    new_town_config,
    redis_target,
    register_town,
    save_town_config,
    town_config_path,
)
from tinytown.epoch import check_epoch, start_new_epoch
from tinytown.errors import (
    AgentNotFoundError,
    AmbiguousAgentError,
    ConfigError,
    InvalidInputError,
    RedisError,
    RedisUnavailableError,
    RedisVersionTooOldError,
    TownExistsError,
)
from tinytown.files import narrow_dir, private_dir
from tinytown.keys import Keys
from tinytown.models import SUPERVISOR, Agent, AgentId
from tinytown.redis import server
from tinytown.redis.client import Redis, open_redis
from tinytown.redis.url import parse_url
from tinytown.town_redis import ensure_server, global_config_or_none, secure_target

TT_DIR = ".tt"
TOWN_SUBDIRS = ("agents", "logs", "tasks")
MIN_REMOTE_VERSION = (7, 0)
CLOSE_TIMEOUT_S: Final = 30.0
"""Bound on closing a town (stopping what it started), shielded from cancellation."""

T = TypeVar("T", bound="Town")


def utcnow() -> datetime:
    return datetime.now(UTC)


class TownOpening(Generic[T]):
    """What :meth:`Town.init` and :meth:`Town.connect` return.

    ``async with Town.connect(".") as town:`` closes the town on exit;
    ``town = await Town.connect(".")`` leaves closing to the caller
    (``await town.aclose()`` or ``async with town:``).
    """

    def __init__(self, opener: Callable[[], Awaitable[T]]) -> None:
        self._opener = opener
        self._town: T | None = None

    def __await__(self) -> Generator[Any, None, T]:
        return self._opener().__await__()

    async def __aenter__(self) -> T:
        self._town = await self._opener()
        return self._town

    async def __aexit__(self, *exc_info: object) -> None:
        if self._town is not None:
            await self._town.aclose()


class Town:
    """A connected town. Create with :meth:`init` or :meth:`connect`."""

    INIT_KEEPS_REDIS: ClassVar[bool] = True
    """Whether closing a town made by :meth:`init` leaves the Redis it started running."""

    def __init__(
        self,
        root: Path,
        config: TownConfig,
        redis: Redis,
        target: RedisTarget,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.root = root
        self.config = config
        self.redis = redis
        self.target = target
        self.channel = Channel(redis, config.name)
        self.env = None if env is None else dict(env)
        """The environment the town was opened with (None: the process's), given to the
        processes it starts."""
        self._closing = AsyncExitStack()
        self._stop_redis_on_close = False
        self._closed = False

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def tt_dir(self) -> Path:
        return self.root / TT_DIR

    # --- opening and closing ------------------------------------------------------------

    @classmethod
    def init(
        cls,
        path: str | os.PathLike[str],
        name: str,
        *,
        env: Mapping[str, str] | None = None,
        register: bool = True,
        keep_redis: bool | None = None,
    ) -> TownOpening[Self]:
        """Create a town at ``path`` (refusing an existing one) and connect to it.

        With ``keep_redis=False``, closing the town stops the Redis this call
        started; the default is the class's :attr:`INIT_KEEPS_REDIS`.
        """
        root = Path(path)
        keep = cls.INIT_KEEPS_REDIS if keep_redis is None else keep_redis

        async def opener() -> Self:
            config = prepare_town(root, name, register=register)
            town = await cls._open(root, config, env, stop_started=not keep)
            await start_new_epoch(town.redis, town.channel.keys, town.root)
            return town

        return TownOpening(opener)

    @classmethod
    def connect(
        cls,
        path: str | os.PathLike[str] = ".",
        *,
        env: Mapping[str, str] | None = None,
        start: bool = True,
        check_epoch: bool = True,
    ) -> TownOpening[Self]:
        """Connect to the town at ``path``, starting its Redis if needed and ``start``.

        Closing it leaves the town (its Redis, its runtime) running.

        Raises:
            TownDataLostError: the town's Redis came back without its data
                (:mod:`tinytown.epoch`); ``check_epoch=False`` skips the check,
                for the commands that replace the data (reset, restore).
        """
        root = Path(path)

        async def opener() -> Self:
            config = load_town_config(root)
            return await cls._open(root, config, env, start=start, check=check_epoch)

        return TownOpening(opener)

    @classmethod
    async def _open(
        cls,
        root: Path,
        config: TownConfig,
        env: Mapping[str, str] | None,
        *,
        start: bool = True,
        stop_started: bool = False,
        check: bool = True,
    ) -> Self:
        root = Path(os.path.abspath(root))  # noqa: ASYNC240 - getcwd only, no disk I/O
        narrow_dir(root / TT_DIR)  # .tt/ is the user's alone, whatever made it (one stat)
        environ = os.environ if env is None else env
        target = secure_target(redis_target(config, root, environ), config, root, environ)
        started = False
        if target.managed and start:
            started = await ensure_server(root, config, target)
        stack = AsyncExitStack()
        try:
            redis = await stack.enter_async_context(open_redis(parse_url(target.url)))
            if not target.managed:
                await check_remote(redis, target)
            if check:
                await check_epoch(redis, Keys(config.name), root)
        except BaseException:
            await stack.aclose()
            raise
        town = cls(root, config, redis, target, env)
        town._closing = stack
        town._stop_redis_on_close = started and stop_started
        return town

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections; stop the Redis that ``init(keep_redis=False)`` started.

        Idempotent; shielded from cancellation and bounded in time.
        """
        if self._closed:
            return
        self._closed = True
        with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_TIMEOUT_S):
            try:
                if self._stop_redis_on_close:
                    await self._before_redis_stops()
            finally:
                await self._closing.aclose()
                if self._stop_redis_on_close:
                    await self.stop_redis()

    async def _before_redis_stops(self) -> None:
        """A hook: what must end before the Redis this town started stops (nothing here)."""

    async def stop_redis(self) -> bool:
        """Stop the town's own Redis (saving its data). False if tt does not manage it."""
        if not self.target.managed:
            return False
        return await server.stop_town_server(
            self.root, socket_path=self.target.socket_path, password=self.target.password
        )

    # --- agents -----------------------------------------------------------------------

    async def resolve(self, ref: str) -> tuple[AgentId, Agent | None]:
        """Resolve a reference per cli.md §0.5; the supervisor has no record."""
        clean = ref.strip()
        if clean.lower() in ("supervisor", "conductor"):
            return SUPERVISOR, None
        if not clean:
            raise AgentNotFoundError(ref)
        try:
            aid = AgentId.parse(clean)
        except InvalidInputError:
            aid = None
        if aid is not None:
            agent = await self.channel.get_agent(aid)
            if agent is None:
                raise AgentNotFoundError(ref)
            return aid, agent
        # O(1) by the name index: a live agent with exactly this name is what pick_match
        # would prefer among any other matches, so the scan is needed only on a miss.
        named = await self.channel.indexed_agent(clean)
        if named is not None:
            return named.id, named
        matches = [a for a in await self.channel.list_agents() if a.matches(clean)]
        return pick_match(ref, matches)

    async def list_agents(self) -> list[Agent]:
        return await self.channel.list_agents()


def pick_match(ref: str, matches: list[Agent]) -> tuple[AgentId, Agent]:
    if not matches:
        raise AgentNotFoundError(ref)
    if len(matches) > 1:
        # Prefer an exact canonical-name match among live agents before calling it ambiguous.
        exact = [a for a in matches if a.name == ref.strip() and not a.state.is_terminal]
        if len(exact) == 1:
            return exact[0].id, exact[0]
        listed = ", ".join(f"{a.label} ({a.short_id})" for a in matches)
        raise AmbiguousAgentError(f"Agent reference '{ref}' is ambiguous: {listed}")
    return matches[0].id, matches[0]


# --- helpers ---------------------------------------------------------------------------


def prepare_town(root: Path, name: str, *, register: bool = True) -> TownConfig:
    """Write a new town's config and layout (refusing an existing town); no Redis yet."""
    if town_config_path(root).exists():
        raise TownExistsError(
            f"A town already exists at {root} (tinytown.toml found); "
            "use 'tt start' to run it or 'tt reset' to clear it"
        )
    if not name.strip():
        raise InvalidInputError("Town name must not be empty")
    config = new_town_config(name.strip(), global_config_or_none())
    root.mkdir(parents=True, exist_ok=True)
    create_layout(root)
    save_town_config(root, config)
    if register:
        register_town(root, config.name)
    return config


def create_layout(root: Path) -> None:
    """``.tt/`` with its subdirectories, and ``.tt`` in ``.gitignore``."""
    private_dir(root / TT_DIR)
    for sub in TOWN_SUBDIRS:
        private_dir(root / TT_DIR / sub)
    gitignore = root / ".gitignore"
    lines = gitignore.read_text().splitlines() if gitignore.exists() else []
    if not any(line.strip().rstrip("/") in (".tt", "/.tt") for line in lines):
        prefix = "" if not lines or gitignore.read_text().endswith("\n") else "\n"
        with gitignore.open("a") as fh:
            fh.write(f"{prefix}.tt/\n")


async def check_remote(redis: Redis, target: RedisTarget) -> None:
    """A server tt does not manage must answer and be Redis >= 7.0."""
    try:
        info: str = await redis.execute("INFO", "server")
    except RedisError as exc:
        raise RedisUnavailableError(
            f"Failed to connect to configured Redis at {target.redacted}: {exc}"
        ) from None
    for line in info.splitlines():
        if line.startswith("redis_version:"):
            version = line.split(":", 1)[1].strip()
            parts = version.split(".")
            try:
                major, minor = int(parts[0]), int(parts[1])
            except (ValueError, IndexError):
                raise ConfigError(
                    f"Redis INFO reported an invalid redis_version value: {version}"
                ) from None
            if (major, minor) < MIN_REMOTE_VERSION:
                raise RedisVersionTooOldError(version)
            return
    raise ConfigError("Redis INFO response did not include redis_version")
