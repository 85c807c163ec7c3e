"""``python -m tinytown.runtime.reaper``: nothing of a demo outlives it (issue 10 item 6).

``tt demo`` cleans up after itself, but a demo killed with SIGKILL cannot: its
runtime (detached on purpose, as every town's is) and its Redis (a daemon)
would run forever in a temporary directory. So the demo starts this small
watchdog in its own session. It waits for the demo process to end
(:func:`tinytown.procwait.wait_pid_gone`), then ends whatever of the demo's
town still runs, by pid: the runtime (SIGINT: stop its agents, then SIGTERM,
SIGKILL), the model process groups it left, and Redis (SIGTERM, which ends it
even when its files are gone). With ``--remove`` it also deletes the town
directory. After a normal demo there is nothing left to do, and it exits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import trio

from tinytown.procwait import pid_alive, wait_pid_gone
from tinytown.redis.server import PIDFILE as REDIS_PIDFILE
from tinytown.runtime.procfiles import read_pid, runtime_pidfile

GRACE_S = 3.0
AGENTS_DIR = ".tt/agents"


async def _signal_until_gone(
    pid: int, signals: Sequence[signal.Signals], group: bool = False
) -> None:
    for sig in signals:
        if not pid_alive(pid):
            return
        try:
            if group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        if await wait_pid_gone(pid, GRACE_S):
            return


async def clean_up(root: Path, *, remove: bool) -> None:
    """End the town's runtime, model processes and Redis by pid; remove ``root`` if asked."""
    runtime = read_pid(runtime_pidfile(root))
    if runtime is not None:
        await _signal_until_gone(runtime, (signal.SIGINT, signal.SIGTERM, signal.SIGKILL))
    agents = root / AGENTS_DIR
    for marker in agents.glob("*.model.pid") if agents.is_dir() else ():
        pid = read_pid(marker)
        if pid is not None:
            await _signal_until_gone(pid, (signal.SIGTERM, signal.SIGKILL), group=True)
    redis = read_pid(root / REDIS_PIDFILE)
    if redis is not None:
        await _signal_until_gone(redis, (signal.SIGTERM, signal.SIGKILL))
    if remove:
        shutil.rmtree(root, ignore_errors=True)


async def _watch(watched: int, root: Path, *, remove: bool) -> None:
    await wait_pid_gone(watched)
    await clean_up(root, remove=remove)


def start_reaper(watched: int, root: Path, *, remove: bool) -> subprocess.Popen[bytes]:
    """Start the watchdog for process ``watched`` and town ``root``, in its own session."""
    argv = [sys.executable, "-m", "tinytown.runtime.reaper", "--watch", str(watched),
            "--town", str(root), *(["--remove"] if remove else [])]
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinytown.runtime.reaper",
                                     description="Clean up a demo town when its process ends.")
    parser.add_argument("--watch", type=int, required=True, help="pid of the demo process")
    parser.add_argument("--town", required=True, help="the demo's town directory")
    parser.add_argument("--remove", action="store_true", help="delete the town directory too")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl+C meant for the demo is not for us
    trio.run(partial(_watch, args.watch, Path(args.town), remove=args.remove))
    return 0


if __name__ == "__main__":
    sys.exit(main())
