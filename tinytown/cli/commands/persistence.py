"""``tt save`` and ``tt restore``: the town's Redis state as a snapshot file git can carry.

The town's Redis keeps its snapshot in ``.tt/redis.rdb`` and loads it when
it starts. ``.tt/`` is gitignored: commit the snapshot with ``git add -f
.tt/redis.rdb``, or write a copy elsewhere with ``tt save --output FILE`` and
bring it back with ``tt restore --input FILE``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from cyclopts import Parameter

from tinytown.cli.context import OPTIONS
from tinytown.cli.output import say, usage_error

if TYPE_CHECKING:
    from tinytown.town import Town

Flag = Annotated[bool, Parameter(negative=())]


def _shown(path: Path, root: Path) -> str:
    """A path as the user would type it: under the town as ``<town>/…``, else as is."""
    try:
        rel = path.absolute().relative_to(root.absolute())
    except ValueError:
        return str(path)
    return os.path.join(OPTIONS.town, str(rel))


def save(*, output: Annotated[Path | None, Parameter(name=["--output", "-o"])] = None) -> None:
    """Snapshot the town's Redis state now (SAVE) into .tt/redis.rdb.

    The town's Redis loads .tt/redis.rdb whenever it starts, so a checkout that
    carries the file gets the state back. .tt/ is gitignored: commit it with
    'git add -f .tt/redis.rdb', or write a copy elsewhere with --output.

    Parameters
    ----------
    output : Path, optional
        Also copy the snapshot to this file (e.g. town-state.rdb, outside .tt/).
    """
    from tinytown.cli.runner import run_town
    from tinytown.services.persistence import human_size, save_snapshot

    async def body(town: Town) -> None:
        say("💾 Saving Redis state...")
        result = await save_snapshot(town, output)
        if result.server_file is None:
            say("   Snapshot saved by the server (its file location is not available).")
            return
        if not result.local:
            say(f"   Snapshot saved on the Redis host: {result.server_file}")
            say(f"   (the server {town.target.redacted} is not on this machine)")
            return
        size = f" ({human_size(result.size)})" if result.size is not None else ""
        say(f"   Snapshot saved. File: {_shown(result.server_file, town.root)}{size}")
        if result.copied_to is not None:
            say(f"   Copy written to: {result.copied_to}")
        say()
        say("   To version control Redis state:")
        if result.copied_to is not None:
            say(f"   git add {result.copied_to}")
        else:
            say(f"   git add -f {_git_path(result.server_file, town.root)}")
        say("   git commit -m 'Save town state'")
        if town.target.managed:
            say()
            say("   The town's Redis loads .tt/redis.rdb when it starts;")
            say("   'tt restore' loads a snapshot into the running town now.")

    run_town(body)


def _git_path(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _confirm_restore(force: bool) -> bool:
    """``--force``, or a ``y`` typed on a terminal; refuses without a terminal (exit 2)."""
    if force:
        return True
    if not sys.stdin.isatty():
        usage_error(
            "tt restore replaces the town's live state: confirm on a terminal, "
            "or pass --force (the state it replaces is kept in .tt/redis.rdb.bak)"
        )
    say("   ⚠️  This replaces the town's current state (agents, tasks, queues) with the")
    say("   snapshot; the current state is kept in .tt/redis.rdb.bak.")
    sys.stdout.flush()
    sys.stderr.write("   Restore now? [y/N]: ")
    sys.stderr.flush()
    if sys.stdin.readline().strip() not in ("y", "Y", "yes"):
        say("   Restore cancelled: nothing changed.")
        return False
    return True


def restore(
    *,
    input: Annotated[Path | None, Parameter(name=["--input", "-i"])] = None,
    force: Flag = False,
) -> None:
    """Load a snapshot into the town's Redis now (default .tt/redis.rdb).

    This replaces the town's live state: on a terminal it asks first; elsewhere
    it needs --force. Redis loads .tt/redis.rdb when it starts: restore copies
    the snapshot there, stops the town's Redis if it runs (its current state is
    kept in .tt/redis.rdb.bak, which 'tt restore --input .tt/redis.rdb.bak'
    brings back) and starts it again on the snapshot. Only for the town's own
    Redis; a server tt does not manage must be restored by its owner. Redis
    also writes .tt/redis.rdb itself (periodically and when it stops): keep a
    snapshot you want to return to with 'tt save --output FILE'.

    Parameters
    ----------
    input : Path, optional
        Snapshot to restore (default .tt/redis.rdb: the latest one, saved by tt or by Redis).
    force : bool
        Replace the live state without asking (needed when not on a terminal).
    """
    from tinytown.cli.runner import run_async
    from tinytown.config import load_town_config
    from tinytown.services.persistence import (
        DEFAULT_SNAPSHOT,
        check_restore,
        human_size,
        restore_snapshot,
    )

    root = Path(OPTIONS.town)

    async def body() -> None:
        config = load_town_config(root)
        source = input if input is not None else root / DEFAULT_SNAPSHOT
        _, _, size = check_restore(root, config, source)
        shown = str(input) if input is not None else _shown(source, root)
        say(f"📂 Snapshot found: {shown} ({human_size(size)})")
        say("   The town's Redis loads .tt/redis.rdb when it starts: restoring puts the")
        say("   snapshot there and (re)starts the server on it.")
        if not _confirm_restore(force):
            raise SystemExit(1)
        result = await restore_snapshot(root, config, source)
        if result.was_running:
            say("   Stopped the town's Redis and started it again on the snapshot.")
        else:
            say("   Started the town's Redis on the snapshot.")
        if result.backup is not None:
            kept = _shown(result.backup, root)
            say(f"   The state it replaced is kept in {kept}")
            say(f"   (bring it back with 'tt restore --input {kept} --force')")
        say(
            f"✅ Restored town '{config.name}': {result.keys} key(s) "
            f"({result.agents} agent(s), {result.tasks} task(s))"
        )

    run_async(body)
