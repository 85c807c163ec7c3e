"""tinytown.redis.server with real redis-server processes in temporary towns."""

import contextlib
import os
import signal
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis
import trio
from redis.backoff import NoBackoff
from redis.retry import Retry

from tinytown.errors import RedisNotInstalledError, RedisStartError, RedisVersionTooOldError
from tinytown.redis import probe
from tinytown.redis.server import (
    PIDFILE,
    SUN_PATH_MAX,
    bundled_redis_server,
    effective_socket_path,
    find_redis_server,
    recorded_socket_path,
    redis_server_version,
    require_redis_8,
    server_running,
    start_town_server,
    stop_town_server,
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat_line = Path(f"/proc/{pid}/stat")
    return not (stat_line.exists() and stat_line.read_text().rpartition(")")[2].split()[0] == "Z")


class Servers:
    """Starts servers for a test and makes sure every one of them is gone afterwards."""

    def __init__(self) -> None:
        self.started: list[tuple[Path, Path, str | None, int]] = []

    async def start(self, root: Path, *, socket_path: Path | None = None, **kwargs: object) -> int:
        sock = socket_path or effective_socket_path(root, ".tt/redis.sock")
        password = kwargs.get("password")
        assert password is None or isinstance(password, str)
        pid = await start_town_server(
            root,
            socket_path=sock,
            binary=bundled_redis_server(),
            **kwargs,  # type: ignore[arg-type]
        )
        self.started.append((root, sock, password, pid))
        return pid

    async def stop_all(self) -> None:
        for root, sock, password, pid in self.started:
            with contextlib.suppress(Exception):
                await stop_town_server(root, socket_path=sock, password=password)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    tracker = Servers()
    try:
        yield tracker
    finally:
        await tracker.stop_all()


@pytest.fixture
def town(tmp_path: Path) -> Path:
    root = tmp_path / "town"
    root.mkdir()
    return root


def fake_redis(path: Path, output: str, status: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{output}'\nexit {status}\n")
    path.chmod(0o755)
    return path


def cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- start / stop --------------------------------------------------------------------


async def test_start_is_idempotent_and_state_survives_a_restart(
    town: Path, servers: Servers
) -> None:
    pid = await servers.start(town)
    sock = town / ".tt" / "redis.sock"
    assert alive(pid)
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o700
    assert int((town / PIDFILE).read_text()) == pid
    assert (town / ".tt" / "logs" / "redis.log").exists()
    assert server_running(town)
    assert await servers.start(town) == pid  # a live server is kept

    with redis.Redis(unix_socket_path=str(sock)) as client:
        client.set("tt:test:key", "v")
    assert await stop_town_server(town)
    assert not alive(pid)
    assert not sock.exists()
    assert not (town / PIDFILE).exists()
    assert (town / ".tt" / "redis.rdb").exists()
    assert not server_running(town)
    assert not await stop_town_server(town)

    pid2 = await servers.start(town)
    assert pid2 != pid
    with redis.Redis(unix_socket_path=str(sock)) as client:
        assert client.get("tt:test:key") == b"v"  # the snapshot was loaded


async def test_stop_blocks_on_the_pid_instead_of_polling(
    town: Path, servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wait for the daemon's exit is a pidfd wait: no sleep loop, no PING per tick."""
    from tinytown.redis import server

    pid = await servers.start(town)

    def no_polling(*_args: object) -> None:
        raise AssertionError("stop_town_server polled")

    monkeypatch.setattr(server, "_answers", no_polling)
    monkeypatch.setattr(trio, "sleep", no_polling)
    with trio.fail_after(20):
        assert await stop_town_server(town)
    assert not alive(pid)


async def test_concurrent_starts_share_one_server(town: Path, servers: Servers) -> None:
    pids: list[int] = []

    async def start() -> None:
        pids.append(await servers.start(town))

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(start)
    assert len(set(pids)) == 1


async def test_stale_socket_is_replaced(town: Path, servers: Servers) -> None:
    sock = town / ".tt" / "redis.sock"
    sock.parent.mkdir()
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(sock))  # the file stays, nobody listens
    assert sock.exists()
    assert not server_running(town)
    pid = await servers.start(town)
    assert alive(pid)
    assert server_running(town)


async def test_a_silent_listener_is_never_replaced(
    town: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probe, "PING_TIMEOUT_S", 0.05)
    sock = town / ".tt" / "redis.sock"
    sock.parent.mkdir()
    with socket.socket(socket.AF_UNIX) as busy:
        busy.bind(str(sock))
        busy.listen()  # connects succeed, nothing answers: a busy server, not a stale file
        assert server_running(town)
        with pytest.raises(RedisStartError, match="no answer"):
            await start_town_server(
                town, socket_path=sock, binary=bundled_redis_server(), timeout_s=0.3
            )
        assert sock.exists()
        assert not (town / PIDFILE).exists()


async def test_stop_cleans_a_dead_socket(town: Path) -> None:
    sock = town / ".tt" / "redis.sock"
    sock.parent.mkdir()
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(sock))
    (town / PIDFILE).write_text("999999\n")
    assert not await stop_town_server(town)
    assert not sock.exists()
    assert not (town / PIDFILE).exists()


async def test_long_town_path_uses_a_short_recorded_socket(
    tmp_path: Path, servers: Servers
) -> None:
    root = tmp_path / ("a-very-long-directory-name-" * 4)
    root.mkdir()
    sock = effective_socket_path(root, ".tt/redis.sock")
    assert len(str(root / ".tt" / "redis.sock")) > SUN_PATH_MAX
    assert sock.parent == Path(f"/tmp/tt-{os.getuid()}")
    assert recorded_socket_path(root) == sock
    pid = await servers.start(root, socket_path=sock)
    assert alive(pid)
    assert server_running(root)  # found through .tt/redis.sockpath
    assert await stop_town_server(root)
    assert not sock.exists()


async def test_aof(town: Path, servers: Servers) -> None:
    await servers.start(town, aof=True)
    assert (town / ".tt" / "redis-aof").is_dir()


async def test_tcp_with_password(town: Path, servers: Servers) -> None:
    port = free_port()
    pid = await servers.start(town, tcp=("127.0.0.1", port), password='se"cr et')
    assert b"cr et" not in cmdline(pid)  # the password is not on the command line
    with redis.Redis(host="127.0.0.1", port=port, password='se"cr et') as client:
        assert client.ping()
    with (
        redis.Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), 0)) as client,
        pytest.raises(redis.AuthenticationError),
    ):
        client.ping()
    assert server_running(town)  # NOAUTH still means "running"
    assert await servers.start(town, tcp=("127.0.0.1", port), password='se"cr et') == pid
    assert await stop_town_server(town, password='se"cr et')
    assert not alive(pid)


async def test_port_in_use_fails_with_the_log(town: Path, servers: Servers) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(RedisStartError) as info:
            await servers.start(town, tcp=("127.0.0.1", port), timeout_s=5.0)
    message = str(info.value)
    assert message.startswith("Redis failed to start: ")
    assert "Address already in use" in message
    assert "overcommit" not in message
    assert "\n" not in message


async def test_launcher_failure(town: Path, tmp_path: Path) -> None:
    binary = fake_redis(tmp_path / "bin" / "redis-server", "FATAL: bad option", status=1)
    sock = town / ".tt" / "redis.sock"
    with pytest.raises(RedisStartError, match="FATAL: bad option"):
        await start_town_server(town, socket_path=sock, binary=binary)
    with pytest.raises(RedisNotInstalledError):
        await start_town_server(town, socket_path=sock, binary=tmp_path / "missing")


# --- binaries and versions ---------------------------------------------------------------


def test_bundled_version() -> None:
    assert redis_server_version(bundled_redis_server()) >= (8, 0, 0)


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc", (7, 0, 15)),
        ("Redis server v=8.2 sha=0", (8, 2, 0)),
        ("Redis server v=8.0.2-rc1 bits=64", (8, 0, 2)),
    ],
)
def test_version_parsing(tmp_path: Path, output: str, version: tuple[int, int, int]) -> None:
    assert redis_server_version(fake_redis(tmp_path / "redis-server", output)) == version


def test_too_old_and_unknown_versions(tmp_path: Path) -> None:
    old = fake_redis(tmp_path / "old" / "redis-server", "Redis server v=7.0.15 sha=0")
    with pytest.raises(RedisVersionTooOldError) as info:
        require_redis_8(old)
    assert info.value.version == "7.0"
    odd = fake_redis(tmp_path / "odd" / "redis-server", "Redis server v=eight")
    with pytest.raises(RedisVersionTooOldError) as info:
        redis_server_version(odd)
    assert info.value.version == "eight"
    mute = fake_redis(tmp_path / "mute" / "redis-server", "Redis server")
    with pytest.raises(RedisVersionTooOldError) as info:
        redis_server_version(mute)
    assert info.value.version == "unknown"


def test_version_cache_follows_the_file(tmp_path: Path) -> None:
    path = fake_redis(tmp_path / "redis-server", "v=8.0.0")
    assert redis_server_version(path) == (8, 0, 0)
    fake_redis(path, "v=8.10.1")
    assert redis_server_version(path) == (8, 10, 1)


def test_unrunnable_binaries(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("#!/bin/sh\necho v=8.0.0\n")
    plain.chmod(0o644)
    for path in (plain, tmp_path / "missing"):
        with pytest.raises(RedisNotInstalledError):
            redis_server_version(path)
    failing = fake_redis(tmp_path / "failing" / "redis-server", "v=8.0.0", status=3)
    with pytest.raises(RedisNotInstalledError, match="status 3"):
        redis_server_version(failing)


def test_find_order(tmp_path: Path) -> None:
    home = tmp_path / "home"
    good = fake_redis(tmp_path / "good" / "redis-server", "Redis server v=8.0.2")
    old = fake_redis(tmp_path / "old" / "redis-server", "Redis server v=7.0.15")
    env = {"HOME": str(home), "PATH": str(old.parent)}
    bundled = bundled_redis_server()

    assert find_redis_server(None, env) == bundled  # 7.0 on PATH is skipped
    assert find_redis_server(None, {**env, "PATH": str(good.parent)}) == good
    boot = fake_redis(home / ".tt" / "bin" / "redis-server", "Redis server v=8.2.0")
    assert find_redis_server(None, {**env, "PATH": str(good.parent)}) == boot
    assert find_redis_server(None, {**env, "TINYTOWN_REDIS_SERVER": str(good)}) == good
    assert find_redis_server(str(good), {**env, "TINYTOWN_REDIS_SERVER": str(old)}) == good

    with pytest.raises(RedisVersionTooOldError):
        find_redis_server(str(old), env)
    with pytest.raises(RedisVersionTooOldError):
        find_redis_server(None, {**env, "TINYTOWN_REDIS_SERVER": str(old)})
    with pytest.raises(RedisNotInstalledError):
        find_redis_server(str(tmp_path / "nope"), env)
