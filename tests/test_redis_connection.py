"""Connecting: AUTH/SELECT, TCP, TLS, timeouts, the pool, losing the server."""

import shutil
import socket
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis as redispy
import trio

from tinytown.errors import (
    AuthenticationError,
    ConnectionLostError,
    RedisUnavailableError,
    ResponseError,
)
from tinytown.redis.client import Redis, open_redis
from tinytown.redis.connection import SocketConnection
from tinytown.redis.resp import pack_command
from tinytown.redis.url import ConnectionSettings, parse_url

PING = pack_command(("PING",))


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30.0) -> None:
    """Poll ``check`` until true; fail the test after ``timeout`` seconds (a loaded machine)."""
    deadline = trio.current_time() + timeout
    while not await check():
        if trio.current_time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await trio.sleep(0.005)


async def test_password(redis_server_factory: Callable[..., Any]) -> None:
    server = redis_server_factory("--requirepass", "s3cret")
    async with open_redis(f"{server.url}?password=s3cret") as redis:
        assert await redis.execute("PING") == "PONG"
    with pytest.raises(AuthenticationError) as info:
        async with open_redis(f"{server.url}?password=wrong"):
            pass
    assert info.value.code == "WRONGPASS"
    async with open_redis(server.url) as redis:
        with pytest.raises(AuthenticationError) as info:
            await redis.execute("GET", "k")
        assert info.value.code == "NOAUTH"


async def test_acl_user_and_db_in_one_round_trip(
    redis_server_factory: Callable[..., Any],
) -> None:
    server = redis_server_factory("--user", "alice", "on", ">wonderland", "~*", "&*", "+@all")
    url = f"unix://alice:wonderland@{server.socket_path}?db=3"
    async with open_redis(url) as redis:
        await redis.execute("SET", "where", "db3")
        assert await redis.execute("ACL", "WHOAMI") == "alice"
        info = await redis.execute("CLIENT", "INFO")
        assert " db=3 " in info
        assert redis.round_trips == 3  # AUTH + SELECT are not counted as commands
        # Every new connection authenticates and selects too.
        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(redis.execute, "BLPOP", "nothing", 0.05)
        assert len(redis.pool.idle) == 4
        for conn in redis.pool.idle:
            assert isinstance(conn, SocketConnection)
            assert await conn.request(pack_command(("GET", "where"))) == "db3"
    reference = redispy.Redis(
        unix_socket_path=str(server.socket_path), username="alice", password="wonderland", db=3
    )
    assert reference.get("where") == b"db3"
    reference.close()
    with pytest.raises(AuthenticationError):
        async with open_redis(f"unix://alice:nope@{server.socket_path}"):
            pass


async def test_tcp(redis_server_factory: Callable[..., Any], free_port: int) -> None:
    redis_server_factory(tcp_port=free_port)
    async with open_redis(f"redis://127.0.0.1:{free_port}/1") as redis:
        assert await redis.execute("SET", "k", "over tcp") == "OK"
        (conn,) = redis.pool.idle
        assert isinstance(conn, SocketConnection)
        sock = socket.socket(fileno=conn.fileno())
        try:
            assert sock.family == socket.AF_INET
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            sock.detach()
    reference = redispy.Redis(port=free_port, db=1)
    assert reference.get("k") == b"over tcp"
    reference.close()


async def test_unreachable_server_is_one_clear_error(tmp_path: Path, free_port: int) -> None:
    with pytest.raises(RedisUnavailableError) as info:
        async with open_redis(f"unix://:pw@{tmp_path}/nothing.sock"):
            pass
    message = str(info.value)
    assert message.startswith(f"Cannot connect to Redis at unix://{tmp_path}/nothing.sock")
    assert "pw" not in message.replace("password", "")
    assert "\n" not in message
    with pytest.raises(RedisUnavailableError, match=f"redis://:\\*\\*\\*\\*@127.0.0.1:{free_port}"):
        async with open_redis(f"redis://:pw@127.0.0.1:{free_port}"):
            pass


async def test_connect_timeout(free_port: int) -> None:
    # A socket that accepts connections but never answers AUTH.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", free_port))
        silent.listen()
        settings = ConnectionSettings(port=free_port, password="pw", connect_timeout_s=0.2)
        with (
            trio.fail_after(5),
            pytest.raises(RedisUnavailableError, match=r"no answer within 0\.2s"),
        ):
            async with open_redis(settings):
                pass


async def test_pool_bound_is_respected(
    redis_server_factory: Callable[..., Any], town_name: str
) -> None:
    # A server of its own: CLIENT LIST must not count other tests' blocked clients.
    own = redis_server_factory()
    key = f"tt:{town_name}:queue"
    async with open_redis(parse_url(own.url)) as redis, open_redis(
        redis.settings, max_connections=3
    ) as small:
        popped: list[Any] = []

        async def pop() -> None:
            popped.append(await small.execute("BLPOP", key, 0))

        async with trio.open_nursery() as nursery:
            for _ in range(6):
                nursery.start_soon(pop)

            async def three_blocked() -> bool:
                return (await redis.execute("CLIENT", "LIST")).count("cmd=blpop") >= 3

            await _until(three_blocked, "the first three BLPOPs to reach the server")
            await trio.sleep(0.1)  # room for a fourth connection, if the bound leaked
            assert small.pool.in_use == 3
            blocked = await redis.execute("CLIENT", "LIST")
            assert blocked.count("cmd=blpop") == 3
            await redis.execute("RPUSH", key, *range(6))
        assert sorted(int(value) for _, value in popped) == list(range(6))
        assert small.pool.in_use == 0
        assert len(small.pool.idle) == 3


async def test_waiting_for_the_pool_can_be_cancelled(redis: Redis, town_name: str) -> None:
    key = f"tt:{town_name}:queue"
    async with open_redis(redis.settings, max_connections=1) as tiny:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(tiny.execute, "BLPOP", key, 0)
            await trio.testing.wait_all_tasks_blocked()  # BLPOP holds the only connection
            with trio.move_on_after(0.05) as scope:
                await tiny.execute("PING")  # waits for the only connection
            assert scope.cancelled_caught
            assert tiny.pool.in_use == 1
            await redis.execute("RPUSH", key, "v")
        assert tiny.pool.in_use == 0
        assert await tiny.execute("PING") == "PONG"


async def test_idle_connections_are_reused_lifo(redis: Redis) -> None:
    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(redis.execute, "BLPOP", "tt:nothing", 0.02)
    assert len(redis.pool.idle) == 3
    last = redis.pool.idle[-1]
    ids = {await redis.execute("CLIENT", "ID") for _ in range(5)}
    assert len(ids) == 1
    assert redis.pool.idle[-1] is last


async def test_cancelled_command_never_returns_its_connection(redis: Redis, town_name: str) -> None:
    stream = f"tt:{town_name}:stream"
    (conn,) = redis.pool.idle
    with trio.move_on_after(0.05):
        await redis.execute("XREAD", "BLOCK", 0, "STREAMS", stream, "$")
    assert conn.closed
    assert redis.pool.in_use == 0
    assert redis.pool.idle == ()
    with trio.move_on_after(0.05):
        await redis.pipeline().cmd("BLPOP", f"tt:{town_name}:q", 0).execute()
    assert redis.pool.idle == ()
    assert await redis.execute("PING") == "PONG"


async def test_cancelled_pop_is_unblocked_and_takes_nothing(redis: Redis, town_name: str) -> None:
    key = f"tt:{town_name}:q"
    (conn,) = redis.pool.idle
    with trio.move_on_after(0.05) as scope:
        await redis.execute("BLPOP", key, 0)
    assert scope.cancelled_caught
    # Redis unblocked it and its (nil) reply was read: the connection is in step.
    assert redis.pool.idle == (conn,)
    assert not conn.closed
    await redis.execute("RPUSH", key, "v")
    assert await redis.execute("LRANGE", key, 0, -1) == ["v"]


async def test_cancelled_pop_that_was_served_returns_what_it_took(
    redis_server_factory: Callable[..., Any], town_name: str
) -> None:
    # A server of its own: on the session server another test's runtime may be the
    # client blocked in BLMOVE, and the push would come before this pop is sent.
    own = redis_server_factory()
    key = f"tt:{town_name}:q"
    reference = redispy.Redis(unix_socket_path=str(own.socket_path), decode_responses=True)
    results: list[Any] = []
    scope = trio.CancelScope()
    async with open_redis(own.url) as redis:

        async def pop() -> None:
            with scope:
                results.append(
                    await redis.execute("BLMOVE", key, f"{key}:processing", "LEFT", "RIGHT", 0)
                )

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pop)

            async def blocked() -> bool:
                return "cmd=blmove" in reference.execute_command("CLIENT", "LIST")

            await _until(blocked, "the BLMOVE to block in Redis")
            # Synchronous: Trio does not run while Redis serves the BLMOVE, so the
            # reply is in the socket before the cancellation reaches the task.
            reference.rpush(key, "job")
            scope.cancel()
        reference.close()
        assert results == ["job"]
        assert await redis.execute("LRANGE", f"{key}:processing", 0, -1) == ["job"]
        assert len(redis.pool.idle) == 1


async def test_server_restart(redis_server_factory: Callable[..., Any]) -> None:
    server = redis_server_factory()
    async with open_redis(server.url) as redis:
        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(redis.execute, "BLPOP", "nothing", 0.02)
        assert len(redis.pool.idle) == 3
        server.kill()
        with pytest.raises(ConnectionLostError):
            await redis.execute("PING")
        assert redis.pool.idle == ()  # the other idle connections were dropped too
        with pytest.raises(RedisUnavailableError):
            await redis.execute("PING")
        server.start()
        assert await redis.execute("PING") == "PONG"
        assert await redis.execute("SET", "k", "v") == "OK"


async def test_stale_idle_connection_is_probed(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tinytown.redis.pool.IDLE_CHECK_AFTER_S", 0.0)
    my_id = await redis.execute("CLIENT", "ID")
    killer = redispy.Redis(unix_socket_path=redis.settings.unix_path)
    assert killer.client_kill_filter(_id=my_id) == 1
    killer.close()
    await trio.sleep(0.05)
    # The killed connection is noticed before use: no error at all.
    assert await redis.execute("CLIENT", "ID") != my_id


async def test_server_closing_the_connection(
    redis_server_factory: Callable[..., Any], town_name: str
) -> None:
    # A server of its own: killing every client of user "default" must not hit other tests'.
    own = redis_server_factory()
    async with open_redis(own.url) as redis:
        # Between commands: the next command finds the connection gone...
        my_id = await redis.execute("CLIENT", "ID")
        assert await redis.execute("CLIENT", "KILL", "ID", my_id, "SKIPME", "no") == 1
        with pytest.raises(ConnectionLostError, match="Lost connection to Redis at unix://"):
            await redis.execute("PING")
        assert await redis.execute("PING") == "PONG"  # ...and the one after that reconnects.
        # During a command: killed once Redis lists it blocked (not before it is sent).
        killer = redispy.Redis(unix_socket_path=str(own.socket_path), decode_responses=True)

        async def blocked() -> bool:
            return "cmd=blpop" in killer.execute_command("CLIENT", "LIST")

        async with trio.open_nursery() as nursery:

            async def kill_when_blocked() -> None:
                await _until(blocked, "the BLPOP to block in Redis")
                await trio.to_thread.run_sync(lambda: killer.execute_command(
                    "CLIENT", "KILL", "USER", "default", "SKIPME", "yes"))

            nursery.start_soon(kill_when_blocked)
            with pytest.raises(ConnectionLostError, match="server closed the connection"):
                await redis.execute("BLPOP", f"tt:{town_name}:q", 0)
        killer.close()
        assert redis.pool.idle == ()
        assert await redis.execute("PING") == "PONG"


async def test_not_a_redis_server(free_port: int) -> None:
    async def babble(stream: trio.SocketStream) -> None:
        async with stream:
            await stream.receive_some()
            await stream.send_all(b"!garbage\r\n")
            await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_tcp, babble, free_port)
        with pytest.raises(RedisUnavailableError, match="protocol error"):
            async with open_redis(f"redis://127.0.0.1:{free_port}"):
                pass
        nursery.cancel_scope.cancel()


async def test_select_out_of_range(redis_settings: ConnectionSettings) -> None:
    with pytest.raises(ResponseError, match="DB index is out of range"):
        async with open_redis(f"unix://{redis_settings.unix_path}?db=999"):
            pass


# --- TLS, through a TLS-terminating proxy in front of the real server ---------


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def _proxy(client: trio.SSLStream[trio.SocketStream], unix_path: str) -> None:
    async with client, await trio.open_unix_socket(unix_path) as upstream:

        async def pump(source: trio.abc.ReceiveStream, sink: trio.abc.SendStream) -> None:
            try:
                while data := await source.receive_some():
                    await sink.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            nursery.cancel_scope.cancel()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pump, client, upstream)
            nursery.start_soon(pump, upstream, client)


async def test_tls(
    redis_settings: ConnectionSettings, tls_files: tuple[Path, Path], free_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Unblocking goes through the in-process proxy: give it time on a loaded machine.
    monkeypatch.setattr("tinytown.redis.client.UNBLOCK_TIMEOUT_S", 30.0)
    cert, key = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    unix_path = redis_settings.unix_path
    assert unix_path is not None
    async with trio.open_nursery() as nursery:
        await nursery.start(
            trio.serve_ssl_over_tcp,
            lambda stream: _proxy(stream, unix_path),
            free_port,
            server_context,
        )
        url = f"rediss://127.0.0.1:{free_port}/0?tls_ca_cert={cert}"
        async with open_redis(url) as redis:
            assert await redis.execute("ECHO", "x" * 200_000) == "x" * 200_000
            replies = await redis.pipeline().cmd("PING").cmd("ECHO", "tls").execute()
            assert replies == ["PONG", "tls"]
            with trio.move_on_after(0.05):
                await redis.execute("XREAD", "BLOCK", 0, "STREAMS", "tt:nothing", "$")
            assert redis.pool.idle == ()
            assert await redis.execute("PING") == "PONG"
            (conn,) = redis.pool.idle  # the connection the BLPOP takes
            watcher = redispy.Redis(unix_socket_path=unix_path, decode_responses=True)
            with trio.CancelScope() as blpop:

                async def blocked() -> bool:
                    listed = watcher.execute_command("CLIENT", "LIST", "ID", conn.client_id)
                    return "cmd=blpop" in listed

                async def blocked_then_cancel() -> None:
                    # Cancel only once the BLPOP is blocked in Redis (not while it is sent).
                    await _until(blocked, "the BLPOP to block in Redis")
                    blpop.cancel()

                nursery.start_soon(blocked_then_cancel)
                await redis.execute("BLPOP", "tt:nothing", 0)
            watcher.close()
            assert redis.pool.idle == (conn,)  # unblocked and read back over TLS
            assert await redis.execute("PING") == "PONG"
        with pytest.raises(RedisUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
            async with open_redis(f"rediss://127.0.0.1:{free_port}"):
                pass
        nursery.cancel_scope.cancel()
