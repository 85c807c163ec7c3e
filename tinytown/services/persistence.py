"""Save and restore a town's Redis state as an RDB snapshot that git can carry.

The town's own ``redis-server`` runs with ``--dir <town>/.tt --dbfilename
redis.rdb`` (see :mod:`tinytown.redis.server`), so:

* :func:`save_snapshot` sends ``SAVE``: the server writes ``.tt/redis.rdb``
  synchronously; a copy can also be written elsewhere (``.tt/`` is
  gitignored, so a file meant for git usually lives outside it);
* whichever command next *starts* the town's Redis loads ``.tt/redis.rdb``;
* :func:`restore_snapshot` puts a snapshot in place and restarts the server
  so that it is loaded now. The state it replaces is kept in
  ``.tt/redis.rdb.bak``.

A server tt does not manage (``REDIS_URL``, ``[redis].url``, a remote host)
can be saved, but not restored by tt: it would have to be restarted by
whoever runs it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import attrs
import trio

from tinytown.config import RedisTarget, TownConfig, is_loopback, redis_target
from tinytown.epoch import start_new_epoch
from tinytown.errors import InvalidInputError, InvalidStateError, NotFoundError
from tinytown.files import PRIVATE_FILE, private_dir
from tinytown.keys import Keys
from tinytown.redis import server
from tinytown.redis.snapshot import (
    SNAPSHOT_NAME,
    seed_aof_from_rdb,
    set_aside,
)
from tinytown.redis.url import parse_url
from tinytown.services.town_ops import scan_keys, town_pattern
from tinytown.town import TT_DIR, Town
from tinytown.town_redis import secure_target

DEFAULT_SNAPSHOT = f"{TT_DIR}/{SNAPSHOT_NAME}"
RDB_MAGIC = b"REDIS"
LOCK_POLL_S = 0.02
LOCK_TIMEOUT_S = 10.0


@attrs.frozen
class SaveResult:
    """Where ``tt save`` left the snapshot.

    Attributes:
        server_file: the file the server wrote (``None`` if it could not say).
        size: its size in bytes, when it is readable here.
        local: whether the server's file is on this machine.
        copied_to: the extra copy written for ``--output``, if any.
    """

    server_file: Path | None
    size: int | None
    local: bool
    copied_to: Path | None = None


@attrs.frozen
class RestoreResult:
    """What ``tt restore`` did.

    Attributes:
        source: the snapshot restored.
        size: its size in bytes.
        was_running: the town's Redis was running and has been restarted.
        backup: where the replaced state was kept, if there was one.
        keys: keys of this town after the restore.
        agents: agent records after the restore.
        tasks: task records after the restore.
    """

    source: Path
    size: int
    was_running: bool
    backup: Path | None
    keys: int
    agents: int
    tasks: int


def human_size(n: int) -> str:
    """``512 B``, ``1.5 KB``, ``2.0 MB`` (powers of 1024)."""
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            break
    return f"{value:.1f} {unit}"


def is_local_target(target: RedisTarget) -> bool:
    """Whether the server's files are on this machine (managed, unix socket or loopback)."""
    if target.managed:
        return True
    settings = parse_url(target.url)
    return settings.unix_path is not None or is_loopback(settings.host)


def check_output_path(output: Path) -> None:
    """Refuse an ``--output`` that cannot be written, before anything is saved.

    Raises:
        InvalidInputError: the path is a directory or its directory does not exist.
    """
    if output.is_dir():
        raise InvalidInputError(f"Cannot write snapshot to {output}: it is a directory")
    if not output.parent.is_dir():
        raise InvalidInputError(
            f"Cannot write snapshot to {output}: directory {output.parent} does not exist"
        )


def check_snapshot(path: Path) -> int:
    """Check that ``path`` is an RDB file; returns its size.

    Raises:
        NotFoundError: there is no such file.
        InvalidInputError: the file is not a Redis RDB snapshot.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(len(RDB_MAGIC))
        size = path.stat().st_size
    except FileNotFoundError:
        raise NotFoundError(
            f"No snapshot found at {path}. Run 'tt save' first to create one."
        ) from None
    except IsADirectoryError:
        raise InvalidInputError(f"{path} is a directory, not a Redis snapshot") from None
    except OSError as exc:
        raise InvalidInputError(f"Cannot read {path}: {exc.strerror}") from None
    if head != RDB_MAGIC:
        raise InvalidInputError(f"{path} is not a Redis RDB snapshot")
    return size


def _copy_unless_same(source: Path, dest: Path) -> None:
    """Copy ``source`` over ``dest`` atomically (nothing to do if they are one file)."""
    if dest.exists() and dest.resolve() == source.resolve():
        return
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, dest)


async def _server_file(town: Town) -> Path | None:
    replies = await (
        town.redis.pipeline()
        .cmd("CONFIG", "GET", "dir")
        .cmd("CONFIG", "GET", "dbfilename")
        .execute(raise_on_error=False)
    )
    if any(isinstance(r, Exception) or len(r) < 2 for r in replies):
        # CONFIG may be disabled on hosted servers; a managed one uses our layout.
        return town.tt_dir / SNAPSHOT_NAME if town.target.managed else None
    return Path(str(replies[0][1])) / str(replies[1][1])


async def save_snapshot(town: Town, output: Path | None = None) -> SaveResult:
    """Make the town's Redis write its snapshot now (``SAVE``), optionally copying it.

    Args:
        town: the connected town.
        output: where to copy the snapshot as well (``None``: only the server's file).

    Raises:
        InvalidInputError: ``output`` cannot be written.
        InvalidStateError: ``output`` was given but the server's file is on another host.
        RedisError: the server refused ``SAVE`` (e.g. a background save is running).
    """
    local = is_local_target(town.target)
    if output is not None:
        check_output_path(output)
        if not local:
            raise InvalidStateError(
                f"Cannot copy the snapshot to {output}: the Redis at {town.target.redacted} "
                "keeps it on its own host"
            )
    await town.redis.execute("SAVE")
    path = await _server_file(town)
    size = None
    if local and path is not None:
        try:
            size = path.stat().st_size
        except OSError:
            local = False
    copied = None
    if output is not None and path is not None and local:
        _copy_unless_same(path, output)
        copied = output
    return SaveResult(server_file=path, size=size, local=local, copied_to=copied)


async def _lock_town_server(root: Path) -> int:
    """Take the town server's start lock (the one :mod:`tinytown.redis.server` uses)."""
    private_dir(root / TT_DIR)
    fd = os.open(root / server.LOCKFILE, os.O_RDWR | os.O_CREAT, 0o600)
    with trio.move_on_after(LOCK_TIMEOUT_S):
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                await trio.sleep(LOCK_POLL_S)
    os.close(fd)
    raise InvalidStateError(f"{root / server.LOCKFILE} stayed locked: is a Redis start running?")


async def restore_snapshot(
    root: Path, config: TownConfig, source: Path, env: Mapping[str, str] | None = None
) -> RestoreResult:
    """Put ``source`` in place as ``.tt/redis.rdb`` and (re)start the town's Redis on it.

    The running server is stopped first (its final save goes to
    ``.tt/redis.rdb.bak``, the state being replaced); with ``[redis].persist``
    the snapshot also becomes the base of a fresh AOF (see
    :func:`seed_aof_from_rdb`), since Redis would replay the AOF instead.
    While the files are swapped the server's start lock is held, so a runtime
    restarting Redis meanwhile waits, then loads the restored snapshot.

    Raises:
        NotFoundError: ``source`` does not exist.
        InvalidInputError: ``source`` is not an RDB snapshot.
        InvalidStateError: tt does not manage this town's Redis.
        RedisError: the server could not be stopped or started.
    """
    root, target, size = check_restore(root, config, source, env)
    staged = _stage(root, source)  # before the stop, which saves over .tt/redis.rdb
    lock_fd = await _lock_town_server(root)
    try:
        was_running = await server.stop_town_server(
            root, socket_path=target.socket_path, password=target.password
        )
        backup = _swap_in(root, staged, aof=config.redis.persist)
    finally:
        os.close(lock_fd)
        staged.unlink(missing_ok=True)
    async with Town.connect(root, env=env, check_epoch=False) as town:
        keys = Keys(town.name)
        await start_new_epoch(town.redis, keys, town.root)  # the restored state is the town's
        n_keys = len(await scan_keys(town.redis, town_pattern(keys, keys.all_pattern)))
        n_agents = len(await scan_keys(town.redis, town_pattern(keys, keys.pattern("agent"))))
        n_tasks = len(await scan_keys(town.redis, town_pattern(keys, keys.pattern("task"))))
    return RestoreResult(source, size, was_running, backup, n_keys, n_agents, n_tasks)


def check_restore(
    root: Path, config: TownConfig, source: Path, env: Mapping[str, str] | None = None
) -> tuple[Path, RedisTarget, int]:
    """Check that ``source`` can be restored into this town; changes nothing.

    Returns:
        ``(absolute town root, Redis target, snapshot size in bytes)``.

    Raises:
        NotFoundError: ``source`` does not exist.
        InvalidInputError: ``source`` is not an RDB snapshot.
        InvalidStateError: tt does not manage this town's Redis.
    """
    root = root.absolute()
    environ = os.environ if env is None else env
    target = secure_target(redis_target(config, root, environ), config, root, environ)
    size = check_snapshot(source)
    if not target.managed:
        raise InvalidStateError(
            f"The town's Redis ({target.redacted}) is not managed by tt; to restore, stop that "
            f"server, put {source} in its data directory as its dbfilename, and start it"
        )
    return root, target, size


def _stage(root: Path, source: Path) -> Path:
    tt_dir = root / TT_DIR
    private_dir(tt_dir)
    staged = tt_dir / f".{SNAPSHOT_NAME}.restoring"
    shutil.copyfile(source, staged)
    staged.chmod(PRIVATE_FILE)  # it becomes .tt/redis.rdb: a full dump of the town
    return staged




def _swap_in(root: Path, staged: Path, *, aof: bool) -> Path | None:
    """Replace ``.tt/redis.rdb`` by ``staged`` (the old file goes aside); seed the AOF."""
    tt_dir = root / TT_DIR
    canonical = tt_dir / SNAPSHOT_NAME
    backup = set_aside(canonical) if canonical.exists() else None
    os.replace(staged, canonical)
    if aof:
        seed_aof_from_rdb(tt_dir)
    return backup
