"""How many agents one runtime can host within its open-file limit.

An idle agent holds two open files: the two Redis connections its actor
blocks on (urgent queue, inbox); its log file is opened per line. A running
round adds about one more (the model process handle), and the runtime itself
needs a fixed reserve (the shared connection pool, the control connection,
stdio, Trio's own descriptors). At start the runtime raises its soft limit
to the hard one, publishes its capacity (``Keys.capacity``), and refuses to
start actors past it; ``tt spawn`` refuses a spawn past it before anything is
registered, so no agent is ever stranded or put in Error for want of files.
"""

from __future__ import annotations

import errno
import logging
import resource
from typing import Final

log = logging.getLogger("tinytown.runtime")

FDS_PER_AGENT: Final = 3
"""Open files to budget per hosted agent: two wait connections, one for a running round."""
FD_RESERVE: Final = 96
"""Open files the runtime keeps for itself (pool of 32, control, stdio, Trio, companion)."""
UNLIMITED_FDS: Final = 1 << 20
"""The soft limit to aim for when the hard limit is unlimited."""
TEMPORARY_ERRNOS: Final = frozenset({errno.EMFILE, errno.ENFILE})


def capacity_for(soft_limit: int) -> int:
    """Agents that fit in ``soft_limit`` open files (pure)."""
    return max((soft_limit - FD_RESERVE) // FDS_PER_AGENT, 0)


def raised_limit(soft: int, hard: int) -> int:
    """The soft limit a runtime sets: the hard one (or a large bound when unlimited) (pure)."""
    if hard == resource.RLIM_INFINITY:
        return max(soft, UNLIMITED_FDS)
    return max(soft, hard)


def raise_fd_limit() -> int:
    """Raise this process's soft open-file limit to the hard one; the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = raised_limit(soft, hard)
    if target != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, target,
                        exc)
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return int(soft)


def local_capacity() -> int:
    """The capacity of a runtime started from this process (it inherits our limits)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return capacity_for(raised_limit(soft, hard))


def out_of_files(exc: BaseException) -> bool:
    """Whether ``exc`` (or its cause, context or a leaf of its group) is "too many open files"."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        cur = stack.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno in TEMPORARY_ERRNOS:
            return True
        if isinstance(cur, BaseExceptionGroup):
            stack.extend(cur.exceptions)
        for nxt in (cur.__cause__, cur.__context__):
            if nxt is not None:
                stack.append(nxt)
    return False
