"""Private files and directories (a town's ``.tt/`` is the user's alone), atomic writes.

Everything tinytown writes under ``.tt/`` (logs, prompts, pid files, the
snapshot and AOF, the epoch marker) may hold task text, results or a full
dump of the town. Directories are made 0700 and files 0600 whatever the
umask: the mode is passed to ``open(2)`` (the umask can only remove bits) and
an existing file or directory that is wider is narrowed.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Final

PRIVATE_FILE: Final = 0o600
PRIVATE_DIR: Final = 0o700


def private_opener(path: str | os.PathLike[str], flags: int) -> int:
    """An ``opener`` for :func:`open`: the file is created 0600 (an existing one narrowed)."""
    fd = os.open(path, flags, PRIVATE_FILE)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, PRIVATE_FILE)
    except OSError:
        os.close(fd)
        raise
    return fd


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (truncating), mode 0600."""
    with open(path, "w", encoding="utf-8", opener=private_opener) as fh:
        fh.write(text)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) mode 0700; narrow it if it is wider."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    narrow_dir(path)
    return path


def narrow_dir(path: Path) -> None:
    """Make an existing directory 0700 if group or others may use it (ignored if missing)."""
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode) and st.st_mode & 0o077:
            path.chmod(PRIVATE_DIR)
    except OSError:
        pass


def write_atomic(path: Path, text: str, mode: int = PRIVATE_FILE, *, sync: bool = True) -> None:
    """Replace ``path`` with ``text`` atomically, as a file of ``mode``.

    A temporary file in the same directory is written, synced (unless not
    ``sync``: files that are rewritten often and cheap to lose), then renamed
    over ``path``; on any failure it is removed and ``path`` is unchanged.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
