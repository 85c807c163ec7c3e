"""A command server's ready worker: a forked, warmed process waiting for one request.

The server (:mod:`tinytown.cli.cmdserver`) keeps workers forked in advance,
so a request pays neither ``fork`` nor the copy-on-write page faults
(:mod:`tinytown.cli.prefault`) of a fresh child. A worker waits on the
town's listening socket and on its control socket to the server; the first
worker to accept a connection owns that request (the others go back to
waiting). It checks the peer is the same user, sends the client its pid
(the client forwards signals to it), hands the server a copy of the
connection (so that a death by a signal can be reported), puts the client's
stdin/stdout/stderr descriptors in place, takes its working directory,
umask, environment and arguments, and runs the ordinary ``tt`` code path
(:func:`tinytown.cli.run`) — then sends the exit status and ends. One
request per worker: a command never runs twice, and each starts from the
server's pristine state. An idle worker ends when the server closes its
control socket (or dies), or on SIGTERM/SIGINT; a pending connection then
stays queued for the next worker.
"""

from __future__ import annotations

import gc
import logging
import os
import select
import signal
import socket
import struct
import sys
import traceback

from tinytown.cli import prefault
from tinytown.cli.cmdclient import INT_SIZE, build_id, pack_int, unpack_int

log = logging.getLogger("tinytown.cmdserver")
REQUEST_TIMEOUT_S = 5.0
MAX_REQUEST = 16 * 1024 * 1024
TAKEN = b"T"  # worker → server: this request is mine (with the connection's descriptor)
PAGES = b"P"  # worker → server: the pages a command made this worker copy
BUILD = build_id().encode("utf-8", "surrogateescape")  # the code this server loaded
MODULES = b"M"  # worker → server: the modules a command imported (the server imports them)


def work(listener: socket.socket, control: socket.socket, hot: prefault.Ranges) -> int:
    """In a freshly forked worker: wait for one request, run it; the exit status."""
    gc.disable()  # a short life: collections would only copy the server's pages
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _leave)
    prefault.populate(hot)
    imported = set(sys.modules)
    conn = _wait(listener, control)
    if conn is None:
        return 0
    try:
        fds, blob = _read_request(conn)
    except (OSError, ValueError) as exc:
        log.warning("command server: %s", exc)
        return 0
    if not blob.startswith(BUILD + b"\0"):
        # Another release of tinytown (upgraded since this server started, or from
        # another environment): no pid goes back, so the client runs the command itself.
        log.info("command server: declined a request from another tinytown version")
        for fd in fds:
            os.close(fd)
        return 0
    listener.close()
    try:
        conn.sendall(pack_int(os.getpid()))
    except OSError:
        pass  # the client left; the command still runs to its end
    try:
        socket.send_fds(control, [TAKEN], [conn.fileno()])
    except OSError:
        pass  # the server is gone: nobody to report a death by a signal
    code = 1
    try:
        code = _run(fds, blob)
    finally:
        _release_stdio()
        try:
            conn.sendall(pack_int(code))
        except OSError:
            pass
        conn.close()
    new = sorted(set(sys.modules) - imported)
    try:
        if new:
            control.send(MODULES + "\n".join(new).encode())
        control.send(PAGES + prefault.encode(prefault.owned_pages(hot)))
    except OSError:
        pass
    return code


def _leave(_signum: int, _frame: object) -> None:
    os._exit(0)  # idle: nothing to finish (a request taken meanwhile is reported lost)


def _wait(listener: socket.socket, control: socket.socket) -> socket.socket | None:
    """The next connection on ``listener``; None once the server closes ``control``."""
    poller = select.poll()
    poller.register(listener, select.POLLIN)
    poller.register(control, select.POLLIN)
    while True:
        for fd, _ in poller.poll():
            if fd == control.fileno():
                return None  # EOF (the server ends) or, by protocol, nothing else
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                continue  # another worker took it
            conn.setblocking(True)
            return conn


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
    parts = [p.decode("utf-8", "surrogateescape") for p in blob.split(b"\0")][1:]  # after build
    cwd, umask, argc = parts[0], int(parts[1]), int(parts[2])
    argv = parts[3 : 3 + argc]
    env = dict(item.split("=", 1) for item in parts[3 + argc :] if "=" in item)
    return cwd, umask, argv, env


def _run(fds: list[int], blob: bytes) -> int:
    """Become the client's ``tt`` process and run the command."""
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


def _release_stdio() -> None:
    """Give the client's descriptors back before reporting (its readers see end of file)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(null, target)
    os.close(null)
