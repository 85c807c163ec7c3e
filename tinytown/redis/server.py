"""The town's own ``redis-server``: start it, check it, stop it.

A managed server listens on a unix socket under the town (``.tt/redis.sock``
by default, mode 0700; see :mod:`tinytown.redis.sockpath` for where else it
may be) and keeps its files in ``.tt/``: ``redis.pid``, ``logs/redis.log``,
the snapshot ``redis.rdb`` and, with ``aof=True`` (the default of
``[redis].persist``), the append-only files in ``redis-aof/``, written with
``appendfsync everysec``: a crash of the server loses at most about a second.

Persistence: the server runs with ``--dir <town>/.tt --dbfilename redis.rdb``.
A snapshot (``tt save`` sends ``SAVE``; Redis' default save points and a
clean ``SHUTDOWN`` write it too) therefore lands in ``.tt/redis.rdb`` and is
loaded automatically at the next start: that is the save/restore round
trip the book promises. With ``aof=True`` the AOF in ``.tt/redis-aof/`` is
replayed instead (seeded from the snapshot when there is none yet).

The server exits on SIGTERM even when it cannot write its files (its town
directory was deleted): ``shutdown-on-sigterm force``. It is started with
umask 077, so everything it writes is private to the user.

The binary is chosen by :func:`find_redis_server` (:mod:`tinytown.redis.binary`);
the server is spoken to with a few raw commands (:mod:`tinytown.redis.probe`).
"""

import contextlib
import fcntl
import os
import re
import signal
from pathlib import Path

import trio

from tinytown.errors import (
    ConfigError,
    OperationTimeoutError,
    RedisNotInstalledError,
    RedisStartError,
)
from tinytown.procwait import wait_pid_gone
from tinytown.redis import probe
from tinytown.redis.binary import (
    MIN_VERSION,
    bundled_redis_server,
    find_redis_server,
    redis_server_version,
    require_redis_8,
)
from tinytown.redis.snapshot import prepare_aof_start
from tinytown.redis.sockpath import (
    SUN_PATH_MAX,
    effective_socket_path,
    recorded_socket_path,
    remove_stale_socket,
)

__all__ = [
    "MIN_VERSION",
    "PIDFILE",
    "SUN_PATH_MAX",
    "bundled_redis_server",
    "effective_socket_path",
    "find_redis_server",
    "recorded_socket_path",
    "redis_server_version",
    "require_redis_8",
    "server_running",
    "start_town_server",
    "stop_town_server",
]

START_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.02
PIDFILE = ".tt/redis.pid"
LOGFILE = ".tt/logs/redis.log"
LOCKFILE = ".tt/redis.lock"
PRIVATE_UMASK = 0o077
_LOG_TAIL_LINES = 3
# Log lines after which a just-launched daemon will never answer: fail fast.
_FATAL_LOG_RE = re.compile(r"Could not create server|Failed listening|Fatal error|FATAL|Abort")

# "8611:M 21 Nov 2026 11:16:33.724 # " before each log message.
_LOG_PREFIX_RE = re.compile(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [.*#-] ")
_LOG_NOISE_RE = re.compile(r"Memory overcommit must be enabled|Reading config from stdin")


def _pid_from(replies: list[probe.Reply], root: Path) -> int | None:
    pid = probe.info_pid(replies)
    if pid is not None:
        return pid
    try:
        return int((root / PIDFILE).read_text().strip())
    except (OSError, ValueError):
        return None


def server_running(
    root: Path, socket_path: Path | None = None, password: str | None = None
) -> bool:
    """Whether a server answers on the town's socket (default: the recorded one)."""
    sock = socket_path or recorded_socket_path(root)
    return sock.exists() and probe.alive(
        probe.query_sync(sock, probe.with_auth([("PING",)], password))
    )


# --- start ----------------------------------------------------------------------------


def _quote_config(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _server_args(
    root: Path,
    socket_path: Path,
    binary: Path,
    *,
    aof: bool,
    tcp: tuple[str, int] | None,
    password: str | None,
    tls: tuple[str | None, str | None, str | None] | None,
) -> list[str]:
    # The password goes through stdin ("-"), not argv, so `ps` does not show it.
    args = [str(binary), *(["-"] if password else [])]
    args += ["--daemonize", "yes", "--pidfile", str(root / PIDFILE)]
    args += ["--logfile", str(root / LOGFILE), "--loglevel", "warning"]
    args += ["--unixsocket", str(socket_path), "--unixsocketperm", "700"]
    args += ["--dir", str(root / ".tt"), "--dbfilename", "redis.rdb"]
    # Exit on SIGTERM/SIGINT even when the final save fails (town directory deleted).
    args += ["--shutdown-on-sigterm", "force", "--shutdown-on-sigint", "force"]
    if tcp is None:
        args += ["--port", "0"]
    else:
        host, port = tcp
        if tls is None:
            args += ["--port", str(port)]
        else:
            args += ["--tls-port", str(port), "--port", "0"]
            for flag, value in zip(("cert", "key", "ca-cert"), tls, strict=True):
                if value:
                    args += [f"--tls-{flag}-file", value]
        args += ["--bind", host]
        if not password and host != "127.0.0.1":
            args += ["--protected-mode", "yes"]
    if aof:
        args += ["--appendonly", "yes", "--appenddirname", "redis-aof"]
        args += ["--appendfsync", "everysec"]
    return args


def _log_tail(root: Path, start: int = 0) -> str:
    try:
        with (root / LOGFILE).open("rb") as fh:
            fh.seek(start)
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [_LOG_PREFIX_RE.sub("", ln).strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not _LOG_NOISE_RE.search(ln)]
    return " | ".join(lines[-_LOG_TAIL_LINES:])


def _log_size(root: Path) -> int:
    try:
        return (root / LOGFILE).stat().st_size
    except OSError:
        return 0


def _prepare(root: Path, socket_path: Path) -> tuple[Path, int]:
    """Create ``.tt/logs`` (private) and the socket's directory; open the start lock file."""
    root = root.absolute()
    tt_dir = root / ".tt"
    (tt_dir / "logs").mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        tt_dir.chmod(0o700)
    socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root, os.open(root / LOCKFILE, os.O_RDWR | os.O_CREAT, 0o600)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


async def _launch(root: Path, args: list[str], password: str | None) -> None:
    stdin = f"requirepass {_quote_config(password)}\n".encode() if password else b""
    log_fd = os.open(root / LOGFILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        # The launcher forks the daemon and exits; messages from before the
        # daemon opens its log (bad arguments) reach the log through stderr.
        done = await trio.run_process(
            args, stdin=stdin, stdout=log_fd, stderr=log_fd, cwd=root, check=False,
            umask=PRIVATE_UMASK,
        )
    except OSError as exc:
        raise RedisNotInstalledError(f"cannot run {args[0]}: {exc}") from exc
    finally:
        os.close(log_fd)
    if done.returncode != 0:
        detail = _log_tail(root) or f"exit status {done.returncode}"
        raise RedisStartError(f"Redis failed to start: {detail}")


async def _wait_ready(
    root: Path, socket_path: Path, password: str | None, timeout_s: float, log_start: int
) -> int:
    commands = probe.with_auth([("PING",), ("INFO", "server")], password)
    with trio.move_on_after(timeout_s):
        while True:
            replies = await probe.query(socket_path, commands)
            if replies and (probe.pong(replies) or probe.refused(replies, "NOAUTH")):
                pid = _pid_from(replies, root)
                if pid is not None:
                    return pid
            elif _FATAL_LOG_RE.search(_log_tail(root, log_start)):
                break
            await trio.sleep(POLL_INTERVAL_S)
    detail = _log_tail(root, log_start) or f"no answer on {socket_path} after {timeout_s:g}s"
    raise RedisStartError(f"Redis failed to start: {detail}")


async def start_town_server(
    root: Path,
    *,
    socket_path: Path,
    binary: Path,
    aof: bool = True,
    tcp: tuple[str, int] | None = None,
    password: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    tls_ca_cert: str | None = None,
    timeout_s: float = START_TIMEOUT_S,
) -> int:
    """Make sure the town's server runs; return its pid.

    A server already answering on ``socket_path`` is kept (its pid is
    returned). A stale socket nobody answers on is removed (any other kind of
    file there is refused, never deleted). Otherwise ``binary`` is launched
    daemonised and awaited until it answers PING. Concurrent starts for one
    town are serialised by a lock file.

    Args:
        root: the town directory.
        socket_path: the unix socket (see :func:`effective_socket_path`).
        binary: the ``redis-server`` (see :func:`find_redis_server`).
        aof: also keep an append-only file (``.tt/redis-aof/``, fsync every second).
        tcp: ``(bind, port)`` to listen on TCP as well; ``None`` for socket only.
        password: ``requirepass`` (TCP mode); also used for our own PINGs.
        tls_cert: TLS certificate file; with ``tls_key``/``tls_ca_cert``, TCP uses TLS.
        tls_key: TLS key file.
        tls_ca_cert: TLS CA certificate file.
        timeout_s: how long to wait for the server to answer.

    Raises:
        RedisStartError: the server did not come up (the message ends with its log).
        RedisNotInstalledError: ``binary`` cannot be run.
        ConfigError: something that is not a socket sits at ``socket_path``.
    """
    root, lock_fd = _prepare(root, socket_path)
    tls = (tls_cert, tls_key, tls_ca_cert) if any((tls_cert, tls_key, tls_ca_cert)) else None
    try:
        with trio.move_on_after(timeout_s) as lock_scope:
            # Polling: a flock cannot be awaited.
            while not _try_lock(lock_fd):  # noqa: ASYNC110
                await trio.sleep(POLL_INTERVAL_S)
        if lock_scope.cancelled_caught:
            raise RedisStartError(f"Redis failed to start: {root / LOCKFILE} stayed locked")
        log_start = _log_size(root)
        if probe.alive(await probe.query(socket_path, [("PING",)])):
            return await _wait_ready(root, socket_path, password, timeout_s, log_start)
        remove_stale_socket(socket_path)
        if aof:
            prepare_aof_start(root / ".tt")
        args = _server_args(root, socket_path, binary, aof=aof, tcp=tcp, password=password, tls=tls)
        await _launch(root, args, password)
        return await _wait_ready(root, socket_path, password, timeout_s, log_start)
    finally:
        os.close(lock_fd)  # also releases the lock


# --- stop -----------------------------------------------------------------------------


async def _answers(sock: Path) -> bool:
    return probe.alive(await probe.query(sock, [("PING",)]))


async def stop_town_server(
    root: Path,
    *,
    socket_path: Path | None = None,
    password: str | None = None,
    timeout_s: float = 5.0,
) -> bool:
    """Stop the town's server (``SHUTDOWN``, which saves ``.tt/redis.rdb``).

    Falls back to SIGTERM when ``SHUTDOWN`` is refused. Removes a stale socket
    (never a file that is not a socket) and the pid file in any case.

    Args:
        root: the town directory.
        socket_path: the unix socket; default :func:`recorded_socket_path`.
        password: AUTH password, if the server requires one.
        timeout_s: how long to wait for the server to exit.

    Returns:
        True if a running server was stopped, False if none was running.

    Raises:
        OperationTimeoutError: the server is still running after ``timeout_s``.
    """
    root = root.absolute()  # noqa: ASYNC240 - getcwd only, no disk I/O
    sock = socket_path or recorded_socket_path(root)
    replies = await probe.query(sock, probe.with_auth([("INFO", "server")], password))
    stopped = probe.alive(replies)
    if replies is not None:
        pid = _pid_from(replies, root)
        replies = await probe.query(sock, probe.with_auth([("SHUTDOWN",)], password))
        if replies and probe.last_is_error(replies) and pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        if pid is None:  # no pid to wait on (no INFO, no pid file): poll until it goes quiet
            with trio.move_on_after(timeout_s):
                while await _answers(sock):  # noqa: ASYNC110 - nothing else to wait on
                    await trio.sleep(POLL_INTERVAL_S)
        elif not await wait_pid_gone(pid, timeout_s):  # blocks on a pidfd (a zombie is gone)
            raise OperationTimeoutError(f"Redis (pid {pid}) did not stop within {timeout_s:g}s")
    with contextlib.suppress(OSError, ConfigError):  # never delete what is not a socket
        remove_stale_socket(sock)
    (root / PIDFILE).unlink(missing_ok=True)
    return stopped
