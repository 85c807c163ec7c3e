"""Finding and starting a town's background runtime (used by ``tt spawn``/``restart``/``start``).

A runtime is alive when its liveness key names a pid that runs on this
machine (a key left by a killed runtime names a dead pid and is ignored).
A new runtime is started fully detached — ``sh`` backgrounds it and exits at
once, so it is nobody's child; it gets a new session, stdin from
``/dev/null`` and its output appended to ``.tt/logs/runtime.log`` — and the
caller waits until its liveness key appears.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import trio

from tinytown.errors import OperationTimeoutError
from tinytown.files import private_dir, private_opener
from tinytown.procwait import pid_alive, wait_pid_gone
from tinytown.runtime.containment import MARKER_ENV
from tinytown.runtime.settings import ShutdownMode
from tinytown.town import Town

RUNTIME_LOG: Final = ".tt/logs/runtime.log"
START_TIMEOUT_S: Final = 15.0
STOP_TIMEOUT_S: Final = 15.0
_POLL_S: Final = 0.05


def runtime_log_path(root: Path) -> Path:
    return root / RUNTIME_LOG


def runtime_argv(root: Path, *, stay: bool = False, python: str = sys.executable) -> list[str]:
    argv = [python, "-m", "tinytown.runtime", "--town", str(root)]
    if stay:
        argv.append("--stay")
    return argv


async def runtime_pid(town: Town, host: str) -> int | None:
    """The pid of the live runtime serving ``host``, if any."""
    raw = await town.redis.execute("GET", town.channel.keys.runtime(host))
    if raw is None or not str(raw).isdigit():
        return None
    pid = int(raw)
    return pid if pid_alive(pid) else None


async def shut_down_runtimes(town: Town, timeout_s: float = STOP_TIMEOUT_S) -> list[int]:
    """Ask every live runtime of the town to shut down ("stop" mode) and wait for them to exit.

    Used before the town's own Redis goes away: a runtime left without its
    Redis would retry forever. In "stop" mode each kills its running model
    processes, puts in-flight work back in the queues and marks its agents
    Stopped (``tt restart`` revives them).

    Returns:
        The pids of the runtimes asked (those still alive after ``timeout_s`` are left).
    """
    from tinytown.services.town_ops import scan_keys

    keys = town.channel.keys
    prefix = keys.runtime("")
    pids: dict[str, int] = {}
    for key in await scan_keys(town.redis, keys.scan_pattern("runtime")):
        host = key[len(prefix) :]
        if key.endswith(":control") or not host:
            continue
        pid = await runtime_pid(town, host)
        if pid is not None:
            pids[host] = pid
    for host in pids:
        command = {"op": "shutdown", "mode": ShutdownMode.STOP.value}
        await town.channel.runtime_command(host, command)
    with trio.move_on_after(timeout_s):
        for pid in pids.values():  # one deadline for all: each wait blocks on a pidfd
            await wait_pid_gone(pid)
    return sorted(pids.values())


def runtime_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without a round's markers: a runtime started by a model is not part of its round."""
    return {k: v for k, v in env.items() if k not in MARKER_ENV}


def launch_detached(root: Path, *, stay: bool = False, env: Mapping[str, str] | None = None
                    ) -> None:
    """Start ``python -m tinytown.runtime --town <root>`` in the background, detached."""
    log_path = runtime_log_path(root)
    private_dir(log_path.parent)
    with open(log_path, "ab", opener=private_opener) as log:
        subprocess.run(
            ["/bin/sh", "-c", '"$@" &', "sh", *runtime_argv(root, stay=stay)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            env=runtime_env(os.environ if env is None else env),
            start_new_session=True,
            check=True,
        )


async def wait_for_runtime(town: Town, host: str, timeout_s: float = START_TIMEOUT_S) -> int:
    """Wait until a runtime serves ``host``; its pid.

    Raises:
        OperationTimeoutError: none came up in time (its log says why).
    """
    for _ in range(int(timeout_s / _POLL_S) + 1):
        pid = await runtime_pid(town, host)
        if pid is not None:
            return pid
        await trio.sleep(_POLL_S)
    raise OperationTimeoutError(
        f"The town's runtime did not start within {timeout_s:g}s; "
        f"see {runtime_log_path(town.root)}"
    )


async def ensure_runtime(town: Town, host: str, *, stay: bool = False) -> tuple[int, bool]:
    """The runtime's pid, starting one if none is alive; and whether it was started now."""
    pid = await runtime_pid(town, host)
    if pid is not None:
        return pid, False
    await trio.to_thread.run_sync(lambda: launch_detached(town.root, stay=stay, env=town.env))
    return await wait_for_runtime(town, host), True
