"""The Town: a directory with ``tinytown.toml``, its Redis and its agents.

``Town.init`` and ``Town.connect`` are async context managers; they start the
town's own Redis when the config says tinytown manages it and it is not
running. Leaving the context closes the connections but leaves Redis running
(other commands and the runtime share it); :meth:`Town.stop_redis` stops it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import attrs
import trio

from tinytown.channel import Channel
from tinytown.config import (
    GlobalConfig,
    RedisTarget,
    TownConfig,
    load_global_config,
    load_town_config,
    new_town_config,
    redis_target,
    register_town,
    save_town_config,
    town_config_path,
)
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
from tinytown.models import (
    SUPERVISOR,
    Agent,
    AgentId,
    AgentState,
    Event,
    EventType,
    Message,
    MessageKind,
    MessageType,
    Priority,
    Task,
    TaskId,
    validate_agent_name,
)
from tinytown.redis import server
from tinytown.redis.client import Redis, open_redis
from tinytown.redis.url import parse_url

TT_DIR = ".tt"
TOWN_SUBDIRS = ("agents", "logs", "tasks")
MIN_REMOTE_VERSION = (7, 0)
WAIT_POLL_S = 0.25


def utcnow() -> datetime:
    return datetime.now(UTC)


class Town:
    """A connected town. Create with :meth:`init` or :meth:`connect`."""

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

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def tt_dir(self) -> Path:
        return self.root / TT_DIR

    # --- opening ----------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def init(
        cls,
        path: str | os.PathLike[str],
        name: str,
        *,
        env: Mapping[str, str] | None = None,
        register: bool = True,
    ) -> AsyncIterator[Town]:
        """Create a town at ``path`` (refusing an existing one) and connect to it."""
        root = Path(path)
        config = prepare_town(root, name, register=register)
        async with cls._open(root, config, env) as town:
            yield town

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        path: str | os.PathLike[str] = ".",
        *,
        env: Mapping[str, str] | None = None,
        start: bool = True,
    ) -> AsyncIterator[Town]:
        """Connect to the town at ``path``, starting its Redis if needed and ``start``."""
        root = Path(path)
        config = load_town_config(root)
        async with cls._open(root, config, env, start=start) as town:
            yield town

    @classmethod
    @asynccontextmanager
    async def _open(
        cls,
        root: Path,
        config: TownConfig,
        env: Mapping[str, str] | None,
        *,
        start: bool = True,
    ) -> AsyncIterator[Town]:
        root = Path(os.path.abspath(root))  # noqa: ASYNC240 - getcwd only, no disk I/O
        target = redis_target(config, root, os.environ if env is None else env)
        if target.managed and start:
            await ensure_server(root, config, target)
        settings = parse_url(target.url)
        async with open_redis(settings) as redis:
            if not target.managed:
                await check_remote(redis, target)
            yield cls(root, config, redis, target, env)

    async def stop_redis(self) -> bool:
        """Stop the town's own Redis (saving its data). False if tt does not manage it."""
        if not self.target.managed:
            return False
        return await server.stop_town_server(
            self.root, socket_path=self.target.socket_path, password=self.target.password
        )

    # --- agents -----------------------------------------------------------------------

    async def spawn_agent(
        self,
        name: str,
        cli: str | None = None,
        *,
        role: str | None = None,
        parent: AgentId | None = None,
        max_rounds: int | None = None,
    ) -> AgentHandle:
        """Register a new agent record (state ``starting``); the runtime makes it run."""
        clean = validate_agent_name(name)
        cli_name = self.config.resolve_cli_name(cli or self.config.default_cli)
        agent = Agent.new(clean, cli_name, utcnow(), role_id=role, parent=parent)
        agent.max_rounds = max_rounds
        await self.channel.set_agent(agent)
        await self.channel.emit(
            Event(
                event_type=EventType.AGENT_SPAWNED,
                message=f"Agent '{clean}' spawned with CLI {cli_name}",
                timestamp=utcnow(),
                agent_id=agent.id,
                new_state=AgentState.STARTING.label,
                parent_agent_id=parent,
                spawn_mode=agent.spawn_mode.value,
            )
        )
        return AgentHandle(self, agent.id, clean)

    async def agent(self, ref: str | AgentId) -> AgentHandle:
        """Resolve an agent reference (name, nickname, label, short id, UUID, supervisor)."""
        if isinstance(ref, AgentId):
            agent = await self.channel.require_agent(ref)
            return AgentHandle(self, agent.id, agent.name)
        aid, agent_rec = await self.resolve(ref)
        return AgentHandle(self, aid, agent_rec.name if agent_rec else "supervisor")

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
        matches = [a for a in await self.channel.list_agents() if a.matches(clean)]
        return pick_match(ref, matches)

    async def list_agents(self) -> list[Agent]:
        return await self.channel.list_agents()

    async def assign(
        self, to: AgentId, description: str, *, tags: list[str] | None = None
    ) -> Task:
        """Create an assigned task and send its ``task_assign`` message (one round trip each)."""
        if not description.strip():
            raise InvalidInputError("Task description must not be empty")
        now = utcnow()
        task = Task.new(description, now, tags=tags).assigned(to, now)
        await self.channel.set_task(task)
        await self.channel.send(
            Message(from_=SUPERVISOR, to=to, kind=MessageType.TaskAssign(task_id=str(task.id)))
        )
        await self.channel.emit(
            Event(
                event_type=EventType.TASK_ASSIGNED,
                message=f"Task assigned: {description.splitlines()[0][:80]}",
                timestamp=now,
                agent_id=None if to == SUPERVISOR else to,
                task_id=str(task.id),
            )
        )
        return task


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


@attrs.frozen
class AgentHandle:
    """A handle on one agent of a connected town."""

    town: Town
    id: AgentId
    name: str

    async def record(self) -> Agent:
        return await self.town.channel.require_agent(self.id)

    async def assign(self, description: str, *, tags: list[str] | None = None) -> TaskId:
        task = await self.town.assign(self.id, description, tags=tags)
        return task.id

    async def send(
        self,
        kind: MessageKind,
        *,
        priority: Priority = Priority.NORMAL,
        urgent: bool = False,
        sender: AgentId = SUPERVISOR,
    ) -> Message:
        msg = Message(from_=sender, to=self.id, kind=kind, priority=priority)
        if urgent:
            await self.town.channel.send_urgent(msg)
        else:
            await self.town.channel.send(msg)
        return msg

    async def inbox_len(self) -> int:
        return await self.town.channel.inbox_len(self.id)

    async def state(self) -> AgentState:
        state = await self.town.channel.get_agent_state(self.id)
        if state is None:
            raise AgentNotFoundError(str(self.id))
        return state

    async def wait(self, timeout: float | None = None) -> AgentState:
        """Wait until the agent is Stopped, Error or Cold; the current state on timeout."""
        with trio.move_on_after(timeout if timeout is not None else float("inf")):
            # The state lives in Redis, written by other processes: poll it.
            while not (state := await self.state()).is_terminal:  # noqa: ASYNC110
                await trio.sleep(WAIT_POLL_S)
            return state
        return await self.state()


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
    config = new_town_config(name.strip(), _global_or_default())
    root.mkdir(parents=True, exist_ok=True)
    create_layout(root)
    save_town_config(root, config)
    if register:
        register_town(root, config.name)
    return config


def create_layout(root: Path) -> None:
    """``.tt/`` with its subdirectories, and ``.tt`` in ``.gitignore``."""
    for sub in TOWN_SUBDIRS:
        (root / TT_DIR / sub).mkdir(parents=True, exist_ok=True)
    gitignore = root / ".gitignore"
    lines = gitignore.read_text().splitlines() if gitignore.exists() else []
    if not any(line.strip().rstrip("/") in (".tt", "/.tt") for line in lines):
        prefix = "" if not lines or gitignore.read_text().endswith("\n") else "\n"
        with gitignore.open("a") as fh:
            fh.write(f"{prefix}.tt/\n")


def _global_or_default() -> GlobalConfig | None:
    try:
        return load_global_config()
    except ConfigError:
        return None


async def ensure_server(root: Path, config: TownConfig, target: RedisTarget) -> None:
    """Start the town's Redis unless it already answers."""
    if target.socket_path is not None and server.server_running(
        root, target.socket_path, target.password
    ):
        return
    binary = server.find_redis_server(config.redis.binary)
    tcp = None
    if target.mode == "town_tcp":
        tcp = (config.redis.bind, config.redis.port)
    await server.start_town_server(
        root,
        socket_path=target.socket_path or server.effective_socket_path(root, ".tt/redis.sock"),
        binary=binary,
        aof=config.redis.persist,
        tcp=tcp,
        password=target.password,
    )


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
