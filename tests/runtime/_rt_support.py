"""Fixtures and helpers for the runtime tests (imported by the test modules).

``rt_town`` is a town directory on the session Redis (``REDIS_URL``), with
short runtime timings in the environment (inherited by every ``tt`` and
runtime process) and fake model presets ``ok``, ``slow``, ``jitter``,
``fail``, ``hang`` (2 s timeout), ``flood``, ``setsid`` (2 s timeout) in its
``tinytown.toml``. Every
runtime and fake model process the test started, directly or through
``tt spawn``, is killed by pid when the test ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import attrs
import pytest
import redis as redis_py
import trio

from tinytown.codec import message_to_json
from tinytown.config import CliPreset, load_town_config, new_town_config, save_town_config
from tinytown.keys import Keys
from tinytown.models import SUPERVISOR, AgentId, Message, MessageKind
from tinytown.procwait import pid_alive, wait_pid_gone
from tinytown.redis import server
from tinytown.runtime.procfiles import read_pid, runtime_pidfile

FAKE = Path(__file__).with_name("fake_model.py")
TT = shutil.which("tt") or str(Path(sys.executable).with_name("tt"))
FAST_ENV = {
    "TINYTOWN_HEARTBEAT_S": "0.2",
    "TINYTOWN_RUNTIME_GRACE_S": "0.5",
    "TINYTOWN_KILL_GRACE_S": "0.5",
    "TINYTOWN_FAILED_ROUND_BACKOFF_S": "0.05",
    "TINYTOWN_RESTART_BACKOFF_S": "0.05",
    "TINYTOWN_RUNTIME_REFRESH_S": "1",
    "TINYTOWN_RUNTIME_TTL_S": "5",
}
MODES = ("ok", "slow", "jitter", "fail", "hang", "flood", "setsid", "work")
TIMEOUTS = {"hang": 2.0, "setsid": 2.0}
WAIT_S = 30.0


@attrs.frozen
class Result:
    code: int
    out: str
    err: str


@attrs.define
class RtTown:
    root: Path
    name: str
    url: str
    seen: Path
    pids_dir: Path
    r: redis_py.Redis
    keys: Keys
    procs: list[subprocess.Popen[bytes]] = attrs.field(factory=list)

    # --- processes -----------------------------------------------------------------------

    def tt(self, *args: str, timeout: float = 60) -> Result:
        """Run the installed ``tt`` in the town directory."""
        proc = subprocess.run([TT, *args], capture_output=True, text=True, timeout=timeout,
                              cwd=self.root, env=os.environ.copy(), check=False)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str) -> str:
        res = self.tt(*args)
        assert res.code == 0, (args, res)
        return res.out

    def start_runtime(self, *extra: str, log: Path | None = None) -> subprocess.Popen[bytes]:
        """``python -m tinytown.runtime --town <root>`` as a child of the test."""
        out = open(log or self.root / ".tt" / "logs" / "test-runtime.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "tinytown.runtime", "--town", str(self.root), *extra],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=self.root,
            start_new_session=True,
        )
        out.close()
        self.procs.append(proc)
        return proc

    def runtime_pids(self) -> set[int]:
        pids = set()
        pid = read_pid(runtime_pidfile(self.root))
        if pid is not None:
            pids.add(pid)
        for key in self.r.keys(self.keys.pattern("runtime")):
            if str(key).endswith(":control"):  # a host's control list, not a liveness key
                continue
            value = self.r.get(key)
            if isinstance(value, str) and value.isdigit():
                pids.add(int(value))
        return {p for p in pids if pid_alive(p)}

    def _companions(self) -> set[int]:
        """The town's command servers (a SIGKILLed runtime cannot end its companion)."""
        mark = f"--command-server\0{self.root}".encode()
        out = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if mark in (entry / "cmdline").read_bytes():
                        out.add(int(entry.name))
                except OSError:
                    continue
        return out

    # --- records -------------------------------------------------------------------------

    def agents(self) -> dict[str, dict[str, str]]:
        """Agent hashes by name (the newest one per name)."""
        out: dict[str, dict[str, str]] = {}
        for key in sorted(str(k) for k in self.r.keys(self.keys.pattern("agent"))):
            fields = self.hash(key)
            prev = out.get(fields.get("name", ""))
            if prev is None or prev.get("created_at", "") <= fields.get("created_at", ""):
                out[fields.get("name", "")] = fields
        return out

    def agent(self, name: str) -> dict[str, str]:
        return self.agents()[name]

    def state(self, name: str) -> str:
        return self.agents().get(name, {}).get("state", "")

    def hash(self, key: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.r.hgetall(key).items()}

    def task(self, task_id: str) -> dict[str, str]:
        return self.hash(self.keys.task(task_id))

    def queued(self, agent_id: str) -> tuple[int, int, int]:
        k = self.keys
        return (int(self.r.llen(k.urgent(agent_id))), int(self.r.llen(k.inbox(agent_id))),
                int(self.r.llen(k.processing(agent_id))))

    def seen_lines(self) -> list[list[str]]:
        if not self.seen.exists():
            return []
        return [line.split("\t") for line in self.seen.read_text().splitlines() if line]

    def activity(self, agent_id: str) -> list[str]:
        return [str(line) for line in self.r.lrange(self.keys.activity(agent_id), 0, -1)]

    def send(self, agent_id: str, kind: MessageKind, *, urgent: bool = False) -> str:
        """Queue a message directly (as ``tt send`` would); returns its id."""
        msg = Message(from_=SUPERVISOR, to=AgentId.parse(agent_id), kind=kind)
        if urgent:
            self.r.lpush(self.keys.urgent(agent_id), message_to_json(msg))
        else:
            self.r.rpush(self.keys.inbox(agent_id), message_to_json(msg))
        return str(msg.id)

    # --- cleanup -------------------------------------------------------------------------

    def kill_all(self) -> None:
        """SIGKILL every runtime and fake model process of this town, and wait for them."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
        doomed = self.runtime_pids() | self._companions()
        if self.pids_dir.exists():
            for f in self.pids_dir.iterdir():
                if f.name.isdigit() and _is_fake_model(int(f.name)):
                    doomed.add(int(f.name))
        for pid in doomed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_gone(doomed, timeout=10)


def wait_gone(pids: Iterable[int], timeout: float) -> bool:
    """Block (pidfds, no polling) until every process in ``pids`` has ended, at most
    ``timeout`` seconds in all; whether they all did. Not for use inside a Trio run."""

    async def all_gone() -> bool:
        with trio.move_on_after(timeout):
            for pid in pids:
                await wait_pid_gone(pid)
            return True
        return False

    return trio.run(all_gone)


def _is_fake_model(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return (b"fake_model" in cmdline or b"time.sleep(1000)" in cmdline
            or b"sleep 30; tt task complete" in cmdline)


def wait_until(pred: Callable[[], object], what: str, timeout: float = WAIT_S) -> None:
    """Poll ``pred`` until true; fail the test with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


async def until(
    pred: Callable[[], object], what: str, timeout: float = WAIT_S, every: float = 0.02
) -> None:
    """:func:`wait_until` inside a Trio test: the other tasks run between two checks."""
    deadline = trio.current_time() + timeout
    while not pred():
        if trio.current_time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await trio.sleep(every)


def add_presets(root: Path, python: str = sys.executable) -> None:
    cfg = load_town_config(root)
    for mode in MODES:
        cfg.agent_clis[mode] = CliPreset(
            mode, f"{python} {FAKE} {mode}", timeout_secs=TIMEOUTS.get(mode)
        )
    save_town_config(root, cfg)


def set_idle_timeout(root: Path, seconds: int) -> None:
    cfg = load_town_config(root)
    cfg.agent.idle_timeout_secs = seconds
    save_town_config(root, cfg)


@pytest.fixture(name="rt_town")
def rt_town_fixture(
    tmp_path: Path, town_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RtTown]:
    """A town on the session Redis with fast runtime timings and fake model presets."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("TINYTOWN_AGENT_ID", "TINYTOWN_AGENT_NAME", "TINYTOWN_TOWN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("REDIS_URL", redis_url)
    for var, value in FAST_ENV.items():
        monkeypatch.setenv(var, value)
    root = tmp_path / "town"
    (root / ".tt" / "logs").mkdir(parents=True)
    save_town_config(root, new_town_config(town_name))
    add_presets(root)
    seen = tmp_path / "seen.txt"
    pids = tmp_path / "pids"
    monkeypatch.setenv("FAKE_SEEN", str(seen))
    monkeypatch.setenv("FAKE_PIDS", str(pids))
    monkeypatch.chdir(root)
    client = redis_py.Redis.from_url(redis_url, decode_responses=True)
    town = RtTown(root, town_name, redis_url, seen, pids, client, Keys(town_name))
    try:
        yield town
    finally:
        town.kill_all()
        client.close()


@pytest.fixture(name="managed_town")
def managed_town_fixture(
    tmp_path: Path, town_name: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RtTown]:
    """A town on its own managed Redis (no REDIS_URL), fake model presets, fast timings."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("TINYTOWN_AGENT_ID", "TINYTOWN_AGENT_NAME", "TINYTOWN_TOWN", "REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    for var, value in FAST_ENV.items():
        monkeypatch.setenv(var, value)
    root = tmp_path / "town"
    (root / ".tt" / "logs").mkdir(parents=True)
    save_town_config(root, new_town_config(town_name))
    add_presets(root)
    seen, pids = tmp_path / "seen.txt", tmp_path / "pids"
    monkeypatch.setenv("FAKE_SEEN", str(seen))
    monkeypatch.setenv("FAKE_PIDS", str(pids))
    monkeypatch.chdir(root)
    sock = root / ".tt" / "redis.sock"
    client = redis_py.Redis(unix_socket_path=str(sock), decode_responses=True)
    town = RtTown(root, town_name, f"unix://{sock}", seen, pids, client, Keys(town_name))
    try:
        yield town
    finally:
        town.kill_all()
        client.close()
        trio.run(server.stop_town_server, root)
