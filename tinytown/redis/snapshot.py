"""Files of a town's own Redis data under ``.tt/``: the RDB snapshot and the AOF set.

The town's server runs with ``--dir <town>/.tt --dbfilename redis.rdb``; with
``[redis].persist`` it also keeps an append-only file set in ``redis-aof/``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tinytown.files import private_dir, write_private

SNAPSHOT_NAME = "redis.rdb"
AOF_DIR = "redis-aof"
AOF_FILENAME = "appendonly.aof"  # redis-server's default appendfilename


def set_aside(path: Path) -> Path:
    """Rename ``path`` to ``<path>.bak`` (replacing an older backup); return the new path."""
    backup = path.with_name(path.name + ".bak")
    if backup.is_dir():
        shutil.rmtree(backup)
    elif backup.exists():
        backup.unlink()
    os.replace(path, backup)
    return backup


def seed_aof_from_rdb(tt_dir: Path) -> Path:
    """Make ``.tt/redis.rdb`` the base of a fresh append-only file set; returns its directory.

    A server started with ``appendonly yes`` replays its AOF and ignores the
    RDB; with no AOF at all it starts empty. Redis 7+ accepts an RDB as the
    *base* of a multi-part AOF, so the snapshot becomes the AOF's base and
    the server starts with exactly the snapshot's state. An existing AOF
    directory is moved aside (``redis-aof.bak``).
    """
    aof_dir = tt_dir / AOF_DIR
    if aof_dir.exists():
        set_aside(aof_dir)
    private_dir(aof_dir)
    base = f"{AOF_FILENAME}.1.base.rdb"
    shutil.copyfile(tt_dir / SNAPSHOT_NAME, aof_dir / base)
    write_private(aof_dir / f"{AOF_FILENAME}.manifest", f"file {base} seq 1 type b\n")
    return aof_dir


def prepare_aof_start(tt_dir: Path) -> bool:
    """Before an AOF server starts: seed its AOF from a snapshot if it has none yet.

    Returns True when it seeded (a checkout carrying only ``.tt/redis.rdb``).
    """
    if (tt_dir / AOF_DIR).exists() or not (tt_dir / SNAPSHOT_NAME).exists():
        return False
    seed_aof_from_rdb(tt_dir)
    return True
