"""``python -m tinytown.cli --command-server ROOT``: the town's command server (a zygote).

Started by the town's runtime (and ended with it). It imports the CLI, the
services, Trio and the Redis client once and warms their first-use caches
(:mod:`tinytown.cli.cmdwarm`),
then listens on ``ROOT/.tt/cmd.sock`` (private: same user only, checked with
``SO_PEERCRED``). It keeps :data:`READY` workers forked in advance
(:mod:`tinytown.cli.cmdworker`), each waiting on that socket with the pages a
command writes already copied (:mod:`tinytown.cli.prefault`); a worker runs
one request of :mod:`tinytown.cli.cmdclient` through the ordinary ``tt`` code
path (:func:`tinytown.cli.run`) — the same business logic, minus the
start-up — and the server forks its replacement. A worker sends its own
exit status; if it dies of a signal the server reports that. The server
exits when its socket is removed or replaced, when its parent (the runtime)
goes away, or on SIGTERM/SIGINT; its idle workers then end too.
"""

from __future__ import annotations

import gc
import logging
import os
import selectors
import signal
import socket
import sys
from pathlib import Path

from tinytown.cli import cmdworker, prefault
from tinytown.cli.cmdclient import SOCKET_NAME, pack_int
from tinytown.cli.cmdwarm import import_for_workers, preload

log = logging.getLogger("tinytown.cmdserver")
POLL_S = 1.0
READY = 2  # workers waiting when none is busy; a second one covers a request arriving meanwhile
MAX_MESSAGE = 8 * prefault.MAX_PAGES + 16
MAX_FAILED_STARTS = 5


def server_argv(root: Path) -> list[str]:
    """The command that runs the command server of the town at ``root`` for this process."""
    return [sys.executable, "-m", "tinytown.cli", "--command-server", str(root),
            "--parent", str(os.getpid())]


class Stop(BaseException):
    """SIGTERM/SIGINT: leave the serving loop (a BaseException: no warm-up may swallow it)."""


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


class Worker:
    """The server's record of one forked worker."""

    def __init__(self, pid: int, control: socket.socket) -> None:
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)
        self.control = control
        self.conn: socket.socket | None = None  # once it took a request

    def close(self) -> None:
        for fd_owner in (self.control, self.conn):
            if fd_owner is not None:
                fd_owner.close()
        os.close(self.pidfd)


class Server:
    """The zygote: keeps READY workers waiting on the town's socket, reaps them, learns pages."""

    def __init__(self, root: Path, parent: int) -> None:
        self.path = str(root / ".tt" / SOCKET_NAME)
        self.sel = selectors.DefaultSelector()
        self.listener = _bind(self.path)
        self.listener.setblocking(False)  # workers poll it; the one that accepts first wins
        self.inode = os.stat(self.path).st_ino
        self.parent = parent
        self.workers: dict[int, Worker] = {}  # by pidfd
        self.pages: set[int] = set()
        self.hot: prefault.Ranges = []
        self.stopping = False
        self.failed_starts = 0

    def serve(self) -> None:
        # From here SIGTERM/SIGINT only set a flag (and wake the loop through the wakeup
        # pipe): an exception raised by a handler can be lost, e.g. in os.fork()'s
        # after-fork hooks, which ignore exceptions.
        wake, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.sel.register(wake, selectors.EVENT_READ, None)
        old_wakeup = signal.set_wakeup_fd(wake_w)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        try:
            self._loop()
        finally:
            signal.set_wakeup_fd(old_wakeup)
            self.sel.unregister(wake)
            os.close(wake)
            os.close(wake_w)

    def _stop(self, _signum: int, _frame: object) -> None:
        self.stopping = True

    def _loop(self) -> None:
        while self._still_ours() and not self.stopping:
            self._fill()
            for key, _ in self.sel.select(POLL_S):
                if key.data is None:  # the wakeup pipe: a signal came
                    while _drained(key.fd):
                        pass
                    continue
                worker: Worker = key.data[0]
                is_pidfd: bool = key.data[1]
                if self.workers.get(worker.pidfd) is not worker:
                    continue  # reaped earlier in this batch
                if is_pidfd:
                    self._reap(worker)
                else:
                    self._hear(worker)

    def close(self) -> None:
        if self._socket_is_ours():
            os.unlink(self.path)
        self.listener.close()
        for worker in list(self.workers.values()):  # idle workers end on end-of-file
            self._drop(worker)
        self.sel.close()

    def learn(self, pages: list[int]) -> None:
        """Add pages a command wrote to those every new worker copies in advance."""
        new = set(pages) - self.pages
        if new and len(self.pages) < prefault.MAX_PAGES:
            self.pages |= new
            self.hot = prefault.to_ranges(self.pages, prefault.writable_regions())

    def _socket_is_ours(self) -> bool:
        try:
            return os.stat(self.path).st_ino == self.inode
        except OSError:
            return False

    def _still_ours(self) -> bool:
        return self._socket_is_ours() and os.getppid() == self.parent

    def _fill(self) -> None:
        """Fork workers: one waits at all times, READY once the busy ones ended.

        A worker taken while another still waits is replaced when it ends, so
        that the replacement's start-up does not compete with its command.
        """
        idle = sum(1 for w in self.workers.values() if w.conn is None)
        for _ in range(max(1 - idle, READY - len(self.workers))):
            try:
                self._fork()
            except OSError as exc:  # e.g. out of processes: clients wait in the backlog
                log.warning("command server: no worker forked: %s", exc)
                return

    def _fork(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # the worker never returns into the server
            code = 1
            try:
                ours.close()
                self._close_inherited()
                code = cmdworker.work(self.listener, theirs, self.hot)
            finally:
                os._exit(code)
        theirs.close()
        worker = Worker(pid, ours)
        self.workers[worker.pidfd] = worker
        self.sel.register(worker.pidfd, selectors.EVENT_READ, (worker, True))
        self.sel.register(ours, selectors.EVENT_READ, (worker, False))

    def _close_inherited(self) -> None:
        """In a worker: drop the server's records (other workers' sockets and pidfds)."""
        wake_w = signal.set_wakeup_fd(-1)
        os.close(wake_w)
        for key in self.sel.get_map().values():
            if key.data is None:
                os.close(key.fd)
        for worker in self.workers.values():
            worker.close()
        self.sel.close()

    def _hear(self, worker: Worker) -> bool:
        """Read one message of ``worker``; False if there was none (or at end of file)."""
        try:
            data, fds, _flags, _addr = socket.recv_fds(worker.control, MAX_MESSAGE, 1,
                                                       socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            data, fds = b"", []
        if data.startswith(cmdworker.TAKEN) and fds:
            worker.conn = socket.socket(fileno=fds[0])
            return True
        for fd in fds:
            os.close(fd)
        if data.startswith(cmdworker.PAGES):
            self.learn(prefault.decode(data[1:]))
            return True
        if data.startswith(cmdworker.MODULES):
            import_for_workers(data[1:].decode().split("\n"))
            return True
        if not data:
            self.sel.unregister(worker.control)
        return bool(data)

    def _reap(self, worker: Worker) -> None:
        while self._is_registered(worker.control) and self._hear(worker):
            pass  # what it said before it ended (its request, its pages) comes first
        _, status = os.waitpid(worker.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code < 0 and worker.conn is not None:  # killed by a signal: it could not report it
            try:
                worker.conn.sendall(pack_int(code))
            except OSError:
                pass
        self._drop(worker)
        if worker.conn is None and code > 0:  # it failed before it took a request
            self.failed_starts += 1
            if self.failed_starts >= MAX_FAILED_STARTS:  # never fork in a loop: tt runs in-process
                raise Stop(f"{self.failed_starts} workers in a row failed to start")
        elif worker.conn is not None:
            self.failed_starts = 0

    def _is_registered(self, sock: int | socket.socket) -> bool:
        try:
            self.sel.get_key(sock)
        except KeyError:
            return False
        return True

    def _drop(self, worker: Worker) -> None:
        for owner in (worker.pidfd, worker.control):
            if self._is_registered(owner):
                self.sel.unregister(owner)
        del self.workers[worker.pidfd]
        worker.close()


def _drained(fd: int) -> bool:
    try:
        return bool(os.read(fd, 512))
    except BlockingIOError:
        return False


def _stop(_signum: int, _frame: object) -> None:
    raise Stop


def _check_platform() -> None:
    """Stop unless pidfds and ``SO_PEERCRED`` work here (Linux 5.3+, not refused by a
    seccomp filter): without them workers could neither be reaped nor check their
    peer. ``tt`` then runs every command in-process."""
    if not hasattr(socket, "SO_PEERCRED"):
        raise Stop("no SO_PEERCRED on this system")
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError) as exc:
        raise Stop(f"no pidfds on this system: {exc}") from None


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
        _check_platform()
        preload(root)
        gc.freeze()  # what is imported stays shared with the children (no copy-on-write by gc)
        if os.getppid() != parent:
            raise Stop("the runtime ended while the server was starting")
        server = Server(root, parent)
        server.serve()
        ended = "stopped" if server.stopping else "its socket or its runtime is gone"
        log.info("command server ends: %s", ended)
    except (Stop, OSError) as exc:
        log.info("command server ends: %s", str(exc) or "stopped")
    finally:
        if server is not None:
            server.close()
    return 0

if __name__ == "__main__":
    sys.exit(main())
