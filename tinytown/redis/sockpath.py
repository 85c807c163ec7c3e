"""Where a town's own Redis listens, and which paths tinytown may touch there.

Policy (issue 10, "config is data"): ``tinytown.toml`` is a file people commit
and clone, so a path it names is never trusted to be deleted or created
outside the town's ``.tt/`` or the user's ``~/.tt/``. A socket path elsewhere
is refused unless the user names it outside the town file (env
``TINYTOWN_REDIS_SOCKET``, which the user sets, not a repository); a path
that exists but is not a socket is never unlinked.

Socket paths longer than the OS limit fall back to ``/tmp/tt-<uid>/<hash>.sock``
(directory mode 0700, owned by the user), recorded in ``.tt/redis.sockpath``
for other commands to find.
"""

import hashlib
import os
import stat
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from tinytown.errors import ConfigError

# sun_path holds 104 bytes on macOS/BSD and 108 on Linux, NUL included.
SUN_PATH_MAX = 107 if sys.platform.startswith("linux") else 103
DEFAULT_SOCKET = ".tt/redis.sock"
SOCKPATH_RECORD = ".tt/redis.sockpath"
SOCKET_ENV = "TINYTOWN_REDIS_SOCKET"


def fallback_dir() -> Path:
    """``/tmp/tt-<uid>``, created 0700; refused unless it is a real directory we own."""
    base = Path("/tmp") if Path("/tmp").is_dir() else Path(tempfile.gettempdir())
    uid = os.getuid()
    path = base / f"tt-{uid}"
    path.mkdir(mode=0o700, exist_ok=True)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid:
        raise ConfigError(f"Unsafe socket directory {path}: not a directory owned by uid {uid}")
    if st.st_mode & 0o077:
        path.chmod(0o700)
    return path


def allowed_dirs(root: Path, home: Path | None = None) -> tuple[Path, ...]:
    """Where a town file may put the socket: the town's ``.tt/``, ``~/.tt/``, the fallback dir."""
    home = home or Path.home()
    base = Path("/tmp") if Path("/tmp").is_dir() else Path(tempfile.gettempdir())
    dirs = (root / ".tt", home / ".tt", base / f"tt-{os.getuid()}")
    return tuple(Path(os.path.normpath(d)) for d in dirs)


def check_socket_location(root: Path, path: Path, *, home: Path | None = None) -> None:
    """Refuse a socket path from ``tinytown.toml`` outside the allowed directories.

    Raises:
        ConfigError: naming the path and how to allow it.
    """
    real = Path(os.path.normpath(path))
    if any(real.is_relative_to(d) for d in allowed_dirs(root, home)):
        return
    raise ConfigError(
        f"Refusing [redis] socket_path {path} from tinytown.toml: it is outside the town's "
        f".tt/ and ~/.tt/ (a cloned town file must not choose files to create or delete); "
        f"set {SOCKET_ENV}={path} to use it"
    )


def effective_socket_path(
    root: Path, configured: str, env: Mapping[str, str] | None = None
) -> Path:
    """The absolute unix socket path of a town's server.

    ``configured`` (``[redis].socket_path``) is relative to the town root and
    must stay inside ``.tt/`` or ``~/.tt/`` (:func:`check_socket_location`);
    env ``TINYTOWN_REDIS_SOCKET`` overrides it and may be anywhere. When the
    result is too long for ``sun_path``, a short path
    ``/tmp/tt-<uid>/<hash>.sock`` is used instead (directory mode 0700). Any
    path other than the default ``.tt/redis.sock`` is recorded in
    ``.tt/redis.sockpath`` for :func:`recorded_socket_path`.

    Raises:
        ConfigError: a town-file path outside the allowed directories, or the
            fallback directory exists but is not safely ours.
    """
    env = os.environ if env is None else env
    root = Path(os.path.normpath(root.absolute()))
    override = env.get(SOCKET_ENV, "").strip()
    if override:
        path = Path(os.path.normpath(root / Path(override).expanduser()))
    else:
        path = Path(os.path.normpath(root / configured))
        check_socket_location(root, path)
    if len(os.fsencode(path)) > SUN_PATH_MAX:
        digest = hashlib.sha1(str(root.resolve() / configured).encode(), usedforsecurity=False)
        path = fallback_dir() / f"{digest.hexdigest()[:12]}.sock"
    _record_socket_path(root, path)
    return path


def _record_socket_path(root: Path, path: Path) -> None:
    record = root / SOCKPATH_RECORD
    try:
        if path == root / DEFAULT_SOCKET:
            record.unlink(missing_ok=True)
        elif not record.is_file() or record.read_text().strip() != str(path):
            if root.is_dir():
                record.parent.mkdir(mode=0o700, exist_ok=True)
                fd = os.open(record, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(f"{path}\n")
    except OSError:
        pass  # best effort: the path is recomputed from the config anyway


def recorded_socket_path(root: Path) -> Path:
    """The socket path recorded in ``.tt/redis.sockpath``, else ``<root>/.tt/redis.sock``."""
    root = root.absolute()
    try:
        text = (root / SOCKPATH_RECORD).read_text().strip()
    except OSError:
        text = ""
    return Path(text) if text else root / DEFAULT_SOCKET


def remove_stale_socket(path: Path) -> None:
    """Unlink ``path`` if it is a socket (nobody answers on it); never any other file.

    Raises:
        ConfigError: ``path`` exists and is not a socket.
    """
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise ConfigError(f"Refusing to remove {path}: it is not a socket")
    path.unlink(missing_ok=True)
