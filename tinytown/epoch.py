"""Noticing a town whose Redis came back empty: the epoch marker (issue 10 item 1).

A town has an *epoch*, a random id kept in two places: the Redis key
``tt:<town>:epoch`` and the file ``.tt/town.json`` (mode 0600), which also
holds the last known counts of agents and tasks. When the file names an epoch
and Redis has none, the town's Redis came back without the town's data
(a server restarted without its persistence files, a flushed database): every
command and the runtime report it, and nothing re-creates the epoch but an
explicit ``tt reset`` or ``tt restore``, so an emptied town is never
silently taken for a new one. A town without marker, epoch or data (not
made by ``tt init``) gets its epoch at the first contact once it has data.

A different epoch in Redis (another checkout of the town reset it, or a
restored snapshot) is adopted: it is the town's current state, not a loss.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import attrs

from tinytown.errors import ResponseError, TownDataLostError
from tinytown.files import write_atomic
from tinytown.keys import Keys
from tinytown.redis.client import Redis

MARKER_FILE = "town.json"


@attrs.frozen
class Marker:
    """What ``.tt/town.json`` remembers."""

    epoch: str
    agents: int = 0
    tasks: int = 0
    updated_at: str = ""


def marker_path(root: Path) -> Path:
    return root / ".tt" / MARKER_FILE


def read_marker(root: Path) -> Marker | None:
    """The marker, or None when it is missing or unreadable (then it is rewritten)."""
    try:
        data = json.loads(marker_path(root).read_text())
        return Marker(
            str(data["epoch"]), int(data.get("agents", 0)), int(data.get("tasks", 0)),
            str(data.get("updated_at", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_marker(root: Path, marker: Marker) -> None:
    """Write the marker atomically, mode 0600; a town without ``.tt/`` gets none."""
    path = marker_path(root)
    if not path.parent.is_dir():
        return
    write_atomic(path, json.dumps(attrs.asdict(marker)), sync=False)


def new_epoch() -> str:
    return uuid.uuid4().hex


async def _redis_epoch(redis: Redis, keys: Keys) -> str | None:
    try:
        value = await redis.execute("GET", keys.epoch)
    except ResponseError:  # a wrong-typed key: the town's data is there, just odd
        return "?"
    return value if isinstance(value, str) and value else None


async def _has_data(redis: Redis, keys: Keys) -> bool:
    """Whether Redis holds any key of the town (a SCAN; only for towns without an epoch)."""
    cursor = "0"
    pattern = keys.scan_pattern("*")[: -len(":*")]
    while True:
        cursor, found = await redis.execute("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
        if found:
            return True
        if cursor == "0":
            return False


async def check_epoch(redis: Redis, keys: Keys, root: Path) -> None:
    """Compare the town's epoch in Redis with its marker; create both for a town with data.

    A town without marker, epoch or data is left alone (``tt init`` starts
    the epoch of a new town; see :func:`start_new_epoch`).

    Raises:
        TownDataLostError: the marker names an epoch and Redis has none.
    """
    # The marker first: every writer sets the Redis epoch before it writes the marker, so a
    # marker read here whose epoch is not in Redis below is a real loss, not a concurrent
    # first contact that set both between a read of Redis and a read of the file.
    marker = read_marker(root)
    current = await _redis_epoch(redis, keys)
    if current is None and marker is not None:
        raise TownDataLostError(
            f"Town data lost: its Redis came back empty (last known: {marker.agents} agent(s), "
            f"{marker.tasks} task(s), epoch {marker.epoch[:8]}). Restore a snapshot with "
            f"'tt restore', or start over with 'tt reset'"
        )
    if current is None:
        if not await _has_data(redis, keys):
            return  # nothing to protect yet: a first contact changes nothing
        epoch = new_epoch()
        if await redis.execute("SET", keys.epoch, epoch, "NX") is None:
            epoch = await _redis_epoch(redis, keys) or epoch  # another command won the race
        write_marker(root, Marker(epoch, updated_at=_now()))
    elif current != "?" and (marker is None or marker.epoch != current):
        write_marker(root, Marker(current, updated_at=_now()))


async def start_new_epoch(redis: Redis, keys: Keys, root: Path) -> str:
    """After ``tt reset``/``tt restore``: the town's state is what Redis holds now."""
    epoch = await _redis_epoch(redis, keys)
    if epoch is None or epoch == "?":
        epoch = new_epoch()
        await redis.execute("SET", keys.epoch, epoch)
    write_marker(root, Marker(epoch, updated_at=_now()))
    return epoch


def note_counts(root: Path, agents: int, tasks: int) -> None:
    """Remember the last known counts in the marker (``tt status`` calls this); best effort."""
    marker = read_marker(root)
    if marker is None or (marker.agents, marker.tasks) == (agents, tasks):
        return
    try:
        write_marker(root, Marker(marker.epoch, agents, tasks, _now()))
    except OSError:
        pass  # a read-only checkout: the counts only make the loss message more precise


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
