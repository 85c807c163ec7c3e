"""The town's own ``redis-server``: find it, start it, check it, stop it.

A managed server listens on a unix socket under the town (``.tt/redis.sock``
by default, mode 0700) and keeps its files in ``.tt/``: ``redis.pid``,
``logs/redis.log``, the snapshot ``redis.rdb`` and, with ``aof=True``, the
append-only files in ``redis-aof/``.

Persistence: the server runs with ``--dir <town>/.tt --dbfilename redis.rdb``.
A snapshot (``tt save`` sends ``SAVE``; Redis' default save points and a
clean ``SHUTDOWN`` write it too) therefore lands in ``.tt/redis.rdb`` and is
loaded automatically at the next start: that is the save/restore round
trip the book promises. With ``aof=True`` the AOF in ``.tt/redis-aof/`` is
replayed instead.

The binary is chosen by :func:`find_redis_server` (:mod:`tinytown.redis.binary`).
This module talks to the server with a few hand-written RESP commands (PING, AUTH, INFO,
SHUTDOWN) so that it depends on no Redis client.
"""

import contextlib
import fcntl
import hashlib
import os
import re
import signal
import socket
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import trio

from tinytown.errors import (
    ConfigError,
    OperationTimeoutError,
    RedisNotInstalledError,
    RedisStartError,
)
from tinytown.redis.binary import (
    MIN_VERSION,
    bundled_redis_server,
    find_redis_server,
    redis_server_version,
    require_redis_8,
)
from tinytown.redis.snapshot import prepare_aof_start

__all__ = [
    "MIN_VERSION",
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

# sun_path holds 104 bytes on macOS/BSD and 108 on Linux, NUL included.
SUN_PATH_MAX = 107 if sys.platform.startswith("linux") else 103
START_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.02
PING_TIMEOUT_S = 1.0
DEFAULT_SOCKET = ".tt/redis.sock"
SOCKPATH_RECORD = ".tt/redis.sockpath"
PIDFILE = ".tt/redis.pid"
LOGFILE = ".tt/logs/redis.log"
LOCKFILE = ".tt/redis.lock"
_LOG_TAIL_LINES = 3
# Log lines after which a just-launched daemon will never answer: fail fast.
_FATAL_LOG_RE = re.compile(r"Could not create server|Failed listening|Fatal error|FATAL|Abort")

# "8611:M 21 Nov 2026 11:16:33.724 # " before each log message.
_LOG_PREFIX_RE = re.compile(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [.*#-] ")
_LOG_NOISE_RE = re.compile(r"Memory overcommit must be enabled|Reading config from stdin")

Reply = tuple[str, bytes]  # (RESP type char, payload)


# --- socket path --------------------------------------------------------------------


def _fallback_dir() -> Path:
    base = Path("/tmp") if Path("/tmp").is_dir() else Path(tempfile.gettempdir())
    uid = os.getuid()
    path = base / f"tt-{uid}"
    path.mkdir(mode=0o700, exist_ok=True)
    st = path.lstat()
    if not path.is_dir() or path.is_symlink() or st.st_uid != uid:
        raise ConfigError(f"Unsafe socket directory {path}: not a directory owned by uid {uid}")
    if st.st_mode & 0o077:
        path.chmod(0o700)
    return path


def effective_socket_path(root: Path, configured: str) -> Path:
    """The absolute unix socket path of a town's server.

    ``configured`` (``[redis].socket_path``) is relative to the town root.
    When the result is too long for ``sun_path``, a short path
    ``/tmp/tt-<uid>/<hash>.sock`` is used instead (directory mode 0700). Any
    path other than the default ``.tt/redis.sock`` is recorded in
    ``.tt/redis.sockpath`` for :func:`recorded_socket_path`.

    Raises:
        ConfigError: the fallback directory exists but is not safely ours.
    """
    root = Path(os.path.normpath(root.absolute()))
    path = Path(os.path.normpath(root / configured))
    if len(os.fsencode(path)) > SUN_PATH_MAX:
        digest = hashlib.sha1(str(root.resolve() / configured).encode(), usedforsecurity=False)
        path = _fallback_dir() / f"{digest.hexdigest()[:12]}.sock"
    _record_socket_path(root, path)
    return path


def _record_socket_path(root: Path, path: Path) -> None:
    record = root / SOCKPATH_RECORD
    try:
        if path == root / DEFAULT_SOCKET:
            record.unlink(missing_ok=True)
        elif not record.is_file() or record.read_text().strip() != str(path):
            if root.is_dir():
                record.parent.mkdir(exist_ok=True)
                record.write_text(f"{path}\n")
    except OSError:
        pass  # best effort: the path is recomputed from the config anyway


def recorded_socket_path(root: Path) -> Path:
    """The socket path recorded in ``.tt/redis.sockpath``, else ``<root>/.tt/redis.sock``."""
    root = root.absolute()
    try:
        text = (root / SOCKPATH_RECORD).read_text().strip()
    except OSError:
        text = ""
    return Path(text) if text else root / DEFAULT_SOCKET


# --- raw RESP -------------------------------------------------------------------------


def _encode(commands: Sequence[Sequence[str]]) -> bytes:
    out = bytearray()
    for cmd in commands:
        out += b"*%d\r\n" % len(cmd)
        for arg in cmd:
            data = arg.encode()
            out += b"$%d\r\n%s\r\n" % (len(data), data)
    return bytes(out)


def _parse(buf: bytes) -> tuple[list[Reply], bytes]:
    """Split complete simple/error/integer/bulk replies off ``buf``."""
    replies: list[Reply] = []
    while (nl := buf.find(b"\r\n")) >= 0:
        kind, line = buf[:1].decode(), buf[1:nl]
        if kind == "$" and int(line) >= 0:
            end = nl + 2 + int(line)
            if len(buf) < end + 2:
                break
            replies.append((kind, buf[nl + 2 : end]))
            buf = buf[end + 2 :]
        else:
            replies.append((kind, line))
            buf = buf[nl + 2 :]
    return replies, buf


def _with_auth(commands: Sequence[Sequence[str]], password: str | None) -> list[Sequence[str]]:
    return [("AUTH", password), *commands] if password else list(commands)


def _query_sync(path: Path, commands: Sequence[Sequence[str]]) -> list[Reply] | None:
    """Send ``commands`` and read their replies.

    Returns ``None`` when nothing listens on ``path``, and fewer replies (maybe
    none) when the server closes the connection or stays silent for
    ``PING_TIMEOUT_S`` (busy, e.g. saving a large dataset: still alive).
    """
    replies: list[Reply] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(PING_TIMEOUT_S)
        try:
            sock.connect(str(path))
        except TimeoutError:
            return replies
        except OSError:
            return None
        buf = b""
        try:
            sock.sendall(_encode(commands))
            while len(replies) < len(commands) and (data := sock.recv(65536)):
                more, buf = _parse(buf + data)
                replies += more
        except OSError:
            pass
    return replies


async def _query(path: Path, commands: Sequence[Sequence[str]]) -> list[Reply] | None:
    """Async twin of :func:`_query_sync`."""
    replies: list[Reply] = []
    with trio.move_on_after(PING_TIMEOUT_S) as scope:
        try:
            stream = await trio.open_unix_socket(str(path))
        except OSError:
            return None
    if scope.cancelled_caught:
        return replies
    async with stream:
        buf = b""
        with trio.move_on_after(PING_TIMEOUT_S):
            try:
                await stream.send_all(_encode(commands))
                while len(replies) < len(commands) and (data := await stream.receive_some()):
                    more, buf = _parse(buf + data)
                    replies += more
            except (OSError, trio.BrokenResourceError):
                pass
    return replies


def _alive(replies: list[Reply] | None) -> bool:
    """Something listens on the socket: a server owns it, whatever it answered."""
    return replies is not None


def _pong(replies: list[Reply]) -> bool:
    return any(r == ("+", b"PONG") for r in replies)


def _pid_from(replies: list[Reply], root: Path) -> int | None:
    for kind, payload in replies:
        if kind == "$" and (m := re.search(rb"process_id:(\d+)", payload)):
            return int(m.group(1))
    try:
        return int((root / PIDFILE).read_text().strip())
    except (OSError, ValueError):
        return None


def server_running(
    root: Path, socket_path: Path | None = None, password: str | None = None
) -> bool:
    """Whether a server answers on the town's socket (default: the recorded one)."""
    sock = socket_path or recorded_socket_path(root)
    return sock.exists() and _alive(_query_sync(sock, _with_auth([("PING",)], password)))


# --- start and stop -----------------------------------------------------------------


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


def _absolute(path: Path) -> Path:
    return path.absolute()


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


def _prepare(root: Path, socket_path: Path) -> tuple[Path, int]:
    """Create ``.tt/logs`` and the socket's directory; open the start lock file."""
    root = root.absolute()
    (root / ".tt" / "logs").mkdir(parents=True, exist_ok=True)
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    return root, os.open(root / LOCKFILE, os.O_RDWR | os.O_CREAT, 0o600)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


async def _launch(root: Path, args: list[str], password: str | None) -> None:
    stdin = f"requirepass {_quote_config(password)}\n".encode() if password else b""
    log_fd = os.open(root / LOGFILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        # The launcher forks the daemon and exits; messages from before the
        # daemon opens its log (bad arguments) reach the log through stderr.
        done = await trio.run_process(
            args, stdin=stdin, stdout=log_fd, stderr=log_fd, cwd=root, check=False
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
    commands = _with_auth([("PING",), ("INFO", "server")], password)
    with trio.move_on_after(timeout_s):
        while True:
            replies = await _query(socket_path, commands)
            if replies and (_pong(replies) or any(b"NOAUTH" in p for _, p in replies)):
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
    aof: bool = False,
    tcp: tuple[str, int] | None = None,
    password: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    tls_ca_cert: str | None = None,
    timeout_s: float = START_TIMEOUT_S,
) -> int:
    """Make sure the town's server runs; return its pid.

    A server already answering on ``socket_path`` is kept (its pid is
    returned). A socket file nobody answers on is removed. Otherwise
    ``binary`` is launched daemonised and awaited until it answers PING.
    Concurrent starts for one town are serialised by a lock file.

    Args:
        root: the town directory.
        socket_path: the unix socket (see :func:`effective_socket_path`).
        binary: the ``redis-server`` (see :func:`find_redis_server`).
        aof: also keep an append-only file (``.tt/redis-aof/``).
        tcp: ``(bind, port)`` to listen on TCP as well; ``None`` for socket only.
        password: ``requirepass`` (TCP mode); also used for our own PINGs.
        tls_cert: TLS certificate file; with ``tls_key``/``tls_ca_cert``, TCP uses TLS.
        tls_key: TLS key file.
        tls_ca_cert: TLS CA certificate file.
        timeout_s: how long to wait for the server to answer.

    Raises:
        RedisStartError: the server did not come up (the message ends with its log).
        RedisNotInstalledError: ``binary`` cannot be run.
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
        if _alive(await _query(socket_path, [("PING",)])):
            return await _wait_ready(root, socket_path, password, timeout_s, log_start)
        _unlink(socket_path)  # stale: nothing answers on it
        if aof:
            prepare_aof_start(root / ".tt")
        args = _server_args(root, socket_path, binary, aof=aof, tcp=tcp, password=password, tls=tls)
        await _launch(root, args, password)
        return await _wait_ready(root, socket_path, password, timeout_s, log_start)
    finally:
        os.close(lock_fd)  # also releases the lock


def _pid_gone(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    # The daemon's parent is init, which may take a while to reap it: a zombie is gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] in (["Z"], ["X"])


async def stop_town_server(
    root: Path,
    *,
    socket_path: Path | None = None,
    password: str | None = None,
    timeout_s: float = 5.0,
) -> bool:
    """Stop the town's server (``SHUTDOWN``, which saves ``.tt/redis.rdb``).

    Falls back to SIGTERM when ``SHUTDOWN`` is refused. Removes a stale socket
    file and pid file in any case.

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
    root = _absolute(root)
    sock = socket_path or recorded_socket_path(root)
    replies = await _query(sock, _with_auth([("INFO", "server")], password))
    stopped = _alive(replies)
    if replies is not None:
        pid = _pid_from(replies, root)
        replies = await _query(sock, _with_auth([("SHUTDOWN",)], password))
        if replies and replies[-1][0] == "-" and pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        with trio.move_on_after(timeout_s):
            # Polling: the daemon is not our child, its exit cannot be awaited.
            while not (_pid_gone(pid) and not _alive(await _query(sock, [("PING",)]))):  # noqa: ASYNC110
                await trio.sleep(POLL_INTERVAL_S)
        if not _pid_gone(pid):
            raise OperationTimeoutError(f"Redis (pid {pid}) did not stop within {timeout_s:g}s")
    _unlink(sock)
    _unlink(root / PIDFILE)
    return stopped
