"""The tiny client of the town's command server (as Mercurial's chg does).

When the town's runtime is running it also runs a command server: a process
with every CLI module already imported, listening on the town's private
socket ``.tt/cmd.sock``. For the agent-facing commands ``tt`` then skips its
own start-up: it hands the server its stdin, stdout and stderr (the file
descriptors themselves, so TTY checks, colours and pipes behave exactly as
in-process), its arguments, working directory, umask and environment; one
of the server's workers (forked in advance, waiting) runs the ordinary
command code on those descriptors and reports its pid, then the exit status,
which becomes this process's.

Only built-in modules are imported here (``_socket``, ``_signal``: the
``socket`` and ``signal`` wrappers would import ``enum`` and cost more than the
command itself). Any failure to reach a server
returns ``None`` and the command runs in this process as usual;
``TINYTOWN_CMDSERVER=0`` turns the client off.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # no stubs; signal would import enum
import _socket
import os
import sys

from tinytown import __version__

TYPE_CHECKING = False  # not typing's: importing typing costs more than this client's work
if TYPE_CHECKING:
    from typing import NoReturn

SOCKET_NAME = "cmd.sock"
DISABLE_ENV = "TINYTOWN_CMDSERVER"
# Commands an agent or a user runs often and briefly; they never read stdin interactively.
ROUTED = frozenset(
    {"assign", "send", "inbox", "tasks", "status", "list", "task", "backlog", "history"}
)
MAX_UNIX_PATH = 107
INT_SIZE = 4
FORWARDED_SIGNALS = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT)


LOST = ("Error: the town's command server went away before the command finished; "
        "its outcome is unknown (check with 'tt status')\n")


def pack_int(value: int) -> bytes:
    """A 4-byte big-endian signed integer (request length, child pid, exit status)."""
    return value.to_bytes(INT_SIZE, "big", signed=True)


def unpack_int(data: bytes) -> int:
    return int.from_bytes(data[:INT_SIZE], "big", signed=True)


def town_of(argv: list[str]) -> str:
    """The town root the command will use: ``--town/-t`` (before ``--``), else the default."""
    town = os.environ.get("TINYTOWN_TOWN", "").strip() or "."
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            break
        if arg in ("-t", "--town") and i + 1 < len(argv):
            town = argv[i + 1]
            i += 1
        elif arg.startswith("--town="):
            town = arg.split("=", 1)[1]
        i += 1
    return town


def command_of(argv: list[str]) -> str | None:
    """The command name (first word that is not a global option), or None."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("-t", "--town"):
            skip = True
            continue
        if arg.startswith("--town=") or arg in ("-v", "--verbose"):
            continue
        return arg
    return None


def build_id() -> str:
    """Which release of tinytown this client is (its version).

    A server runs the code it loaded at its start; a ``tt`` of another
    version (upgraded since, or from another environment) is declined, so its
    command runs in its own process with its own code. The version and not
    the file's path: a checkout and an installed copy of one release (as
    under ``pytest`` in a source tree) are the same code.
    """
    return f"tinytown {__version__}"


def encode_request(argv: list[str], cwd: str, umask: int, env: dict[str, str],
                   build: str | None = None) -> bytes:
    """``build NUL cwd NUL umask NUL argc NUL argv... NUL KEY=VALUE...`` in UTF-8."""
    parts = [build_id() if build is None else build, cwd, str(umask), str(len(argv)), *argv,
             *(f"{k}={v}" for k, v in env.items())]
    blob = b"\0".join(p.encode("utf-8", "surrogateescape") for p in parts)
    return pack_int(len(blob)) + blob


def _recv_exact(sock: _socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            continue
        except OSError:  # reset by a server that went away: the caller says so, no traceback
            return None
        if not chunk:
            return None
        data += chunk
    return data


def _ours(sock: _socket.socket) -> bool:
    """Whether the server at the other end runs as this user (``SO_PEERCRED``: Linux)."""
    peercred = getattr(_socket, "SO_PEERCRED", None)
    if peercred is None:
        return False
    cred = sock.getsockopt(_socket.SOL_SOCKET, peercred, 12)  # struct ucred: pid, uid, gid
    return int.from_bytes(cred[4:8], sys.byteorder) == os.getuid()


def try_command_server(argv: list[str]) -> int | None:
    """Run ``argv`` on the town's command server; its exit status, or None to run it here."""
    if os.environ.get(DISABLE_ENV, "").strip() == "0" or command_of(argv) not in ROUTED:
        return None
    path = os.path.join(town_of(argv), ".tt", SOCKET_NAME)
    if len(os.fsencode(path)) > MAX_UNIX_PATH:
        return None
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
        if not _ours(sock):  # never hand the environment (secrets) or the stdio to another user
            sock.close()
            return None
        umask = os.umask(0o022)
        os.umask(umask)
        request = encode_request(argv, os.getcwd(), umask, dict(os.environ))
        fds = b"".join(fd.to_bytes(4, sys.byteorder) for fd in (0, 1, 2))  # C ints
        sent = sock.sendmsg([request], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
        if sent < len(request):
            sock.sendall(request[sent:])
    except OSError:
        sock.close()
        return None
    # Once a worker's pid came back the command is the server's: never run it a second
    # time in this process.
    # The dispositions are put back on return: an ignored SIGINT left behind would be
    # inherited by every program this process starts later (a caller that goes on living).
    saved = {sig: _signal.getsignal(sig) for sig in FORWARDED_SIGNALS}
    try:
        return _await_server(sock)
    finally:
        for sig, handler in saved.items():
            if handler is not None:  # None: not set from Python, nothing to put back
                _signal.signal(sig, handler)


def exit_now(status: int) -> NoReturn:
    """End this client with ``status`` without Python's finalization.

    There is nothing to finalize: only built-in modules are loaded, and the one
    thing this process may have written itself (an error line) is flushed
    here. Finalization would cost more than all the client's own work.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


def _await_server(sock: _socket.socket) -> int | None:
    """Relay signals to the server's child until it ends; its exit status.

    ``None`` when no worker took the request (no pid came back): a worker
    sends its pid before it runs anything, so the command runs here instead.
    """
    for sig in FORWARDED_SIGNALS:
        _signal.signal(sig, _signal.SIG_IGN)
    pid_bytes = _recv_exact(sock, INT_SIZE)
    if pid_bytes is None:  # e.g. the server ended with this request still queued
        sock.close()
        return None
    pid = unpack_int(pid_bytes)

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except OSError:
            pass

    for sig in FORWARDED_SIGNALS:
        _signal.signal(sig, forward)
    status_bytes = _recv_exact(sock, INT_SIZE)
    sock.close()
    if status_bytes is None:
        sys.stderr.write(LOST)
        return 1
    status = unpack_int(status_bytes)
    if status < 0:  # the child died of signal -status: die the same way
        for sig in FORWARDED_SIGNALS:
            _signal.signal(sig, _signal.SIG_DFL)
        _signal.signal(-status, _signal.SIG_DFL)
        os.kill(os.getpid(), -status)
        return 128 - status
    return status
