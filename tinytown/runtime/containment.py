"""Containment of model process trees by a per-round marker in their environment.

Every model process of a round carries ``TINYTOWN_ROUND_TOKEN`` (unique per
agent, incarnation and round), ``TINYTOWN_TOWN`` and ``TINYTOWN_RUNTIME_PID``
in its environment, and passes them on to everything it starts — including
tools that leave the round's process group with ``setsid`` (Claude Code's
Bash tool does). Scanning ``/proc/<pid>/environ`` therefore finds a round's
whole tree, wherever it moved:

* :func:`end_round_processes` — at the end of every round (success, failure,
  timeout, cancellation, shutdown): whatever still carries the round's token;
* :func:`end_orphans` — at a runtime's start, ``tt recover`` and ``tt stop``:
  the model processes of this town whose runtime is dead (a SIGKILLed runtime
  cleans nothing up).

A process that scrubs its own environment escapes the scan; a cgroup would
not, but needs a writable cgroup tree, which most users do not have. Without
``/proc`` (macOS) the scan finds nothing and only the process group is killed.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Final

import trio

from tinytown.models.fencing import ROUND_TOKEN_ENV
from tinytown.procwait import pid_alive, wait_pid_gone

RUNTIME_PID_ENV: Final = "TINYTOWN_RUNTIME_PID"
TOWN_ENV: Final = "TINYTOWN_TOWN"
MARKER_ENV: Final = (ROUND_TOKEN_ENV, RUNTIME_PID_ENV)
"""Variables a runtime must not inherit from a model that started it (``tt spawn`` in a round)."""


def runtime_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without a round's markers: a runtime started by a model is not part of its round."""
    return {k: v for k, v in env.items() if k not in MARKER_ENV}

_PROC = Path("/proc")


def _environ(pid: int) -> dict[bytes, bytes] | None:
    try:
        raw = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    env = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            env[key] = value
    return env


def scan(match: Callable[[dict[bytes, bytes]], bool]) -> list[int]:
    """Pids of the processes (other than this one) whose environment ``match`` accepts."""
    me = os.getpid()
    try:
        names = os.listdir(_PROC)
    except OSError:
        return []
    out = []
    for name in names:
        if not name.isdigit() or int(name) == me:
            continue
        env = _environ(int(name))
        if env and match(env):
            out.append(int(name))
    return out


def round_processes(token: str) -> list[int]:
    """The live processes of one round (carrying its token)."""
    want = token.encode()
    key = ROUND_TOKEN_ENV.encode()
    return scan(lambda env: env.get(key) == want)


def orphan_processes(root: Path, alive: Callable[[int], bool] = pid_alive) -> list[int]:
    """Model processes of the town at ``root`` whose runtime is no longer running."""
    town = str(root).encode()
    token_key, pid_key, town_key = (v.encode() for v in (ROUND_TOKEN_ENV, RUNTIME_PID_ENV,
                                                          TOWN_ENV))

    def orphaned(env: dict[bytes, bytes]) -> bool:
        if token_key not in env or env.get(town_key) != town:
            return False
        owner = env.get(pid_key, b"")
        return not (owner.isdigit() and alive(int(owner)))

    return scan(orphaned)


async def end_processes(pids: Iterable[int], grace_s: float) -> list[int]:
    """SIGTERM ``pids``, allow ``grace_s`` to exit, SIGKILL the rest; returns the pids signalled."""
    doomed = [pid for pid in pids if _signal(pid, signal.SIGTERM)]
    with trio.move_on_after(grace_s):
        for pid in doomed:  # one deadline for all; each wait blocks on a pidfd
            await wait_pid_gone(pid)
    for pid in doomed:
        if pid_alive(pid):
            _signal(pid, signal.SIGKILL)
    return doomed


async def end_round_processes(token: str, grace_s: float) -> list[int]:
    """End whatever the round with ``token`` left running (scanned off the event loop)."""
    pids = await trio.to_thread.run_sync(round_processes, token)
    return await end_processes(pids, grace_s) if pids else []


async def end_orphans(root: Path, grace_s: float) -> list[int]:
    """End the model processes of the town at ``root`` left by a dead runtime."""
    pids = await trio.to_thread.run_sync(orphan_processes, root)
    return await end_processes(pids, grace_s) if pids else []


def _signal(pid: int, sig: signal.Signals) -> bool:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True
