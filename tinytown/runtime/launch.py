"""Finding and starting a town's background runtime (used by ``tt spawn``/``restart``/``start``).

A runtime is alive when its liveness key names a pid that runs on this
machine (a key left by a killed runtime names a dead pid and is ignored).
A new runtime is started fully detached — ``sh`` backgrounds it and exits at
once, so it is nobody's child; it gets a new session, stdin from
``/dev/null`` and its output appended to ``.tt/logs/runtime.log``.

The starter does not poll for it: it hands the runtime the write end of a pipe
(fd named by ``TINYTOWN_READY_FD``) and blocks reading the other end. The
runtime writes its pid there once it serves (:func:`signal_ready`) and closes
it; end of file without a pid means it exited during start-up (the kernel
closes the pipe of a dead process, so a crash is seen at once).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Final

import trio

from tinytown.errors import InvalidStateError, OperationTimeoutError
from tinytown.files import private_dir, private_opener
from tinytown.procwait import pid_alive, wait_pid_gone
from tinytown.runtime.containment import runtime_env
from tinytown.runtime.settings import ShutdownMode
from tinytown.town import Town

RUNTIME_LOG: Final = ".tt/logs/runtime.log"
START_TIMEOUT_S: Final = 15.0
STOP_TIMEOUT_S: Final = 15.0
READY_FD_ENV: Final = "TINYTOWN_READY_FD"


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


def launch_detached(root: Path, *, stay: bool = False, env: Mapping[str, str] | None = None
                    ) -> int:
    """Start ``python -m tinytown.runtime --town <root>`` in the background, detached.

    Returns the read end of its readiness pipe (the caller owns it: see :func:`wait_ready`).
    """
    log_path = runtime_log_path(root)
    private_dir(log_path.parent)
    read_fd, write_fd = os.pipe()
    try:
        with open(log_path, "ab", opener=private_opener) as log:
            subprocess.run(
                ["/bin/sh", "-c", '"$@" &', "sh", *runtime_argv(root, stay=stay)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=root,
                env={**runtime_env(os.environ if env is None else env),
                     READY_FD_ENV: str(write_fd)},
                start_new_session=True,
                check=True,
                pass_fds=(write_fd,),
            )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)  # the runtime holds the only write end now
    return read_fd


def take_ready_fd(environ: MutableMapping[str, str]) -> int | None:
    """The runtime's side: the readiness fd its starter passed, removed from ``environ``
    so that no process the runtime starts inherits the variable."""
    raw = environ.pop(READY_FD_ENV, "")
    return int(raw) if raw.isdigit() else None


def signal_ready(fd: int, pid: int) -> None:
    """Tell the starter this runtime serves (its pid), and close the pipe."""
    try:
        os.write(fd, f"{pid}\n".encode())
    except OSError:  # the starter gave up (timed out, interrupted): nobody to tell
        pass
    finally:
        os.close(fd)


async def wait_ready(read_fd: int, timeout_s: float = START_TIMEOUT_S) -> int | None:
    """Block on the readiness pipe (takes ownership of ``read_fd``): the pid the runtime
    wrote, or None when it closed the pipe without one (it exited during start-up).

    Raises:
        OperationTimeoutError: nothing came within ``timeout_s``.
    """
    data = b""
    async with trio.lowlevel.FdStream(read_fd) as pipe:
        with trio.move_on_after(timeout_s):
            while not data.endswith(b"\n"):
                chunk = await pipe.receive_some()
                if not chunk:
                    break
                data += chunk
            return int(data) if data.strip().isdigit() else None
    raise OperationTimeoutError(f"The town's runtime did not start within {timeout_s:g}s")


async def ensure_runtime(town: Town, host: str, *, stay: bool = False) -> tuple[int, bool]:
    """The runtime's pid, starting one if none is alive; and whether it was started now.

    Raises:
        OperationTimeoutError: the new runtime did not serve in time (its log says why).
        InvalidStateError: it exited during start-up and no other runtime serves ``host``.
    """
    pid = await runtime_pid(town, host)
    if pid is not None:
        return pid, False
    read_fd = await trio.to_thread.run_sync(
        lambda: launch_detached(town.root, stay=stay, env=town.env))
    log = runtime_log_path(town.root)
    try:
        pid = await wait_ready(read_fd)
    except OperationTimeoutError as exc:
        raise OperationTimeoutError(f"{exc}; see {log}") from None
    if pid is None:  # it ended before serving: maybe another runtime won the host meanwhile
        pid = await runtime_pid(town, host)
        if pid is None:
            raise InvalidStateError(f"The town's runtime exited during start-up; see {log}")
    return pid, True
