"""Process bookkeeping on disk: pid files and leftovers of a crashed runtime.

* ``.tt/runtime.pid`` — the pid of the host's background runtime;
* ``.tt/agents/<agent id>.model.pid`` — the process group of an agent's
  running model. A runtime killed with SIGKILL leaves its model processes
  running (they are in their own sessions); the next actor of that agent
  kills the leftover group before it runs the model again, so one agent
  never has two model processes at once. The group is only signalled when
  ``/proc`` shows that its leader is still this agent's model process.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tinytown.files import private_dir, write_atomic
from tinytown.models import AgentId
from tinytown.procwait import pid_alive, wait_pid_gone

RUNTIME_PIDFILE = ".tt/runtime.pid"


def runtime_pidfile(root: Path) -> Path:
    return root / RUNTIME_PIDFILE


def model_marker(root: Path, agent_id: AgentId) -> Path:
    return root / ".tt" / "agents" / f"{agent_id}.model.pid"


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def write_pid(path: Path, pid: int) -> None:
    private_dir(path.parent)
    write_atomic(path, f"{pid}\n", sync=False)


def remove_pid(path: Path, pid: int | None = None) -> None:
    """Delete the pid file (only if it holds ``pid``, when given)."""
    if pid is not None and read_pid(path) != pid:
        return
    path.unlink(missing_ok=True)


def _is_model_of(pid: int, agent_id: AgentId) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"TINYTOWN_AGENT_ID={agent_id}".encode() in environ.split(b"\0")


async def reap_orphan_model(root: Path, agent_id: AgentId, grace_s: float) -> int | None:
    """Kill the model process group a crashed runtime left behind; its pid, if one was killed."""
    marker = model_marker(root, agent_id)
    pid = read_pid(marker)
    marker.unlink(missing_ok=True)
    if pid is None or not pid_alive(pid) or not _is_model_of(pid, agent_id):
        return None
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            return pid
        if await wait_pid_gone(pid, grace_s):
            return pid
    return pid
