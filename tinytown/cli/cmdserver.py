"""``python -m tinytown.cli.cmdserver ROOT``: the town's command server (a pre-forking zygote).

Started by the town's runtime (and ended with it). It imports the CLI, the
services, Trio and the Redis client once, then listens on ``ROOT/.tt/cmd.sock``
(private: same user only, checked with ``SO_PEERCRED``). For every request
from :mod:`tinytown.cli.cmdclient` it forks; the child puts the client's
stdin/stdout/stderr descriptors in place, takes its working directory,
umask, environment and arguments, and runs the ordinary ``tt`` code path
(:func:`tinytown.cli.run`) — the same business logic, minus the start-up.
The child sends its own exit status; if it dies of a signal the server
reports that. The server exits when its socket is removed or replaced, when
its parent (the runtime) goes away, or on SIGTERM/SIGINT.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import os
import selectors
import signal
import socket
import struct
import sys
import traceback
from pathlib import Path

from tinytown.cli.cmdclient import INT_SIZE, SOCKET_NAME, pack_int, unpack_int

log = logging.getLogger("tinytown.cmdserver")
POLL_S = 1.0
REQUEST_TIMEOUT_S = 5.0
MAX_REQUEST = 16 * 1024 * 1024


def server_argv(root: Path) -> list[str]:
    """The command that runs the command server of the town at ``root`` for this process."""
    return [sys.executable, "-m", "tinytown.cli", "--command-server", str(root),
            "--parent", str(os.getpid())]


class Stop(Exception):
    """SIGTERM/SIGINT: leave the accept loop."""


def preload(root: Path) -> None:
    """Import what the routed commands use, and parse the town config once (warms cattrs)."""
    import trio  # noqa: F401

    import tinytown.cli.commands.agents
    import tinytown.cli.commands.backlog
    import tinytown.cli.commands.events
    import tinytown.cli.commands.inbox
    import tinytown.cli.commands.status
    import tinytown.cli.commands.task
    import tinytown.cli.commands.work
    import tinytown.cli.runner
    import tinytown.services.inbox
    import tinytown.services.messages
    import tinytown.services.status
    import tinytown.services.tasks  # noqa: F401
    from tinytown.cli.app import build_app
    from tinytown.config import load_town_config

    build_app()
    try:
        load_town_config(root)
    except Exception as exc:  # a broken config is reported by each command, not here
        log.debug("config not preloaded: %s", exc)
        return
    warm_up(root)


def warm_up(root: Path) -> None:
    """Fill first-use caches so children start warm, without ever starting a server.

    The routed commands' ``--help`` is rendered (cyclopts resolves and inspects
    every command), then the read services run once on a connection that does
    not start the town's Redis (``start=False``): a server this process started
    would outlive a runtime that died meanwhile.
    """
    import trio

    from tinytown.cli import run

    sink = io.StringIO()
    for args in (["status"], ["assign"], ["send"], ["inbox"], ["task", "complete"], ["list"]):
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            try:
                run([*args, "--help"])
            except SystemExit:
                pass
            except Exception as exc:  # warming is best effort
                log.debug("warm-up of %s --help: %s", args, exc)
    try:
        trio.run(_warm_services, root)
    except Exception as exc:  # e.g. the town's Redis is not running: nothing to warm
        log.debug("warm-up of the services: %s", exc)


async def _warm_services(root: Path) -> None:
    from tinytown.services import inbox, status, tasks
    from tinytown.town import Town

    async with Town.connect(root, start=False) as town:
        await status.status(town)
        await inbox.inbox_all(town)
        await tasks.list_tasks(town, None)


def _bind(path: str) -> socket.socket:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        pass  # nobody serves it: a stale socket file, or none
    else:
        probe.close()
        raise Stop("another command server already serves this town")
    probe.close()
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    sock.listen(64)
    return sock


def _read_request(conn: socket.socket) -> tuple[list[int], bytes]:
    conn.settimeout(REQUEST_TIMEOUT_S)
    uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
    data, fds, _flags, _addr = socket.recv_fds(conn, 65536, 3)
    if uid != os.getuid() or len(fds) != 3 or len(data) < INT_SIZE:
        for fd in fds:
            os.close(fd)
        raise ValueError("bad request (another user, or no descriptors)")
    size = unpack_int(data)
    if size > MAX_REQUEST:
        raise ValueError("request too large")
    blob = data[INT_SIZE:]
    while len(blob) < size:
        chunk = conn.recv(size - len(blob))
        if not chunk:
            raise ValueError("truncated request")
        blob += chunk
    conn.settimeout(None)
    return fds, blob


def _decode(blob: bytes) -> tuple[str, int, list[str], dict[str, str]]:
    parts = [p.decode("utf-8", "surrogateescape") for p in blob.split(b"\0")]
    cwd, umask, argc = parts[0], int(parts[1]), int(parts[2])
    argv = parts[3 : 3 + argc]
    env = dict(item.split("=", 1) for item in parts[3 + argc :] if "=" in item)
    return cwd, umask, argv, env


def _child(fds: list[int], blob: bytes) -> int:
    """In the forked child: become the client's ``tt`` process and run the command."""
    cwd, umask, argv, env = _decode(blob)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.chdir(cwd)
    os.umask(umask)
    os.environ.clear()
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)
    enc = env.get("PYTHONIOENCODING", "").split(":")[0] or "utf-8"
    sys.stdin = open(0, encoding=enc, closefd=False)
    sys.stdout = open(1, "w", encoding=enc, closefd=False, buffering=1 if os.isatty(1) else -1)
    sys.stderr = open(2, "w", encoding=enc, errors="backslashreplace", closefd=False,
                      buffering=1)
    logging.root.handlers.clear()
    gc.disable()  # a short life: collections would only copy the server's pages
    sys.argv = ["tt", *argv]
    from tinytown.cli import run

    try:
        run(argv)
        code = 0
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            sys.stderr.write(f"{exc.code}\n")
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            code = code or 120
    return code


class Server:
    def __init__(self, root: Path, parent: int) -> None:
        self.path = str(root / ".tt" / SOCKET_NAME)
        self.sel = selectors.DefaultSelector()
        self.listener = _bind(self.path)
        self.inode = os.stat(self.path).st_ino
        self.parent = parent
        self.sel.register(self.listener, selectors.EVENT_READ, None)

    def serve(self) -> None:
        while self._still_ours():
            for key, _ in self.sel.select(POLL_S):
                if key.data is None:
                    self._accept()
                else:
                    self._reap(key.fd, *key.data)

    def close(self) -> None:
        if self._socket_is_ours():
            os.unlink(self.path)
        self.listener.close()

    def _socket_is_ours(self) -> bool:
        try:
            return os.stat(self.path).st_ino == self.inode
        except OSError:
            return False

    def _still_ours(self) -> bool:
        return self._socket_is_ours() and os.getppid() == self.parent

    def _accept(self) -> None:
        conn, _ = self.listener.accept()
        try:
            fds, blob = _read_request(conn)
        except (OSError, ValueError) as exc:
            log.warning("command server: %s", exc)
            conn.close()
            return
        pid = os.fork()
        if pid == 0:  # the child never returns into the server
            code = 1
            try:
                self._close_inherited()
                code = _child(fds, blob)
                conn.sendall(pack_int(code))
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        try:
            conn.sendall(pack_int(pid))
        except OSError:
            pass  # the client left; the child still runs to its end
        self.sel.register(os.pidfd_open(pid), selectors.EVENT_READ, (pid, conn))

    def _close_inherited(self) -> None:
        """In a child: drop the server's listener and the other requests' sockets and pidfds."""
        for key in list(self.sel.get_map().values()):
            if key.data is not None:
                key.data[1].close()
                os.close(key.fd)
        self.sel.close()
        self.listener.close()

    def _reap(self, pidfd: int, pid: int, conn: socket.socket) -> None:
        self.sel.unregister(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code < 0:  # killed by a signal: the child could not report it
            try:
                conn.sendall(pack_int(code))
            except OSError:
                pass
        conn.close()


def _stop(_signum: int, _frame: object) -> None:
    raise Stop


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s [%(process)d] %(message)s")
    root = Path(args[0]).absolute() if args else Path.cwd()
    # The runtime that started us (``--parent PID``): if it goes away, even before we
    # got here or during the warm-up, we end.
    parent = int(args[2]) if len(args) >= 3 and args[1] == "--parent" else os.getppid()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server = None
    try:
        preload(root)
        gc.freeze()  # what is imported stays shared with the children (no copy-on-write by gc)
        if os.getppid() != parent:
            raise Stop("the runtime ended while the server was starting")
        server = Server(root, parent)
        server.serve()
    except (Stop, OSError) as exc:
        log.info("command server ends: %s", exc or "stopped")
    finally:
        if server is not None:
            server.close()
    return 0

if __name__ == "__main__":
    sys.exit(main())
