"""The command server's ready workers: forked in advance, one request each, replaced.

A real server process on a real town; requests are sent with the client's
own wire format (:func:`tinytown.cli.cmdclient.encode_request` and the three
descriptors) so that a test sees the pid of the worker that took it and the
status the server reports, as the client does.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import TT
from tests.runtime._rt_support import wait_until
from tinytown.cli import cmdclient, prefault
from tinytown.cli.cmdclient import INT_SIZE, encode_request, unpack_int
from tinytown.cli.cmdserver import READY

DEADLINE_S = 60


def _children(pid: int) -> set[int]:
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if int(ppid) == pid and state != "Z":
                out.add(int(entry.name))
    return out


def _workers(server: int, without: frozenset[int] | set[int] = frozenset()) -> set[int]:
    """The server's waiting workers, once there are READY of them and none of ``without``."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        found = _children(server)
        if len(found) == READY and not found & without:
            return found
        assert time.monotonic() < deadline, f"workers of {server}: {found}"
        time.sleep(0.02)


def _gone(pids: set[int]) -> bool:
    return not any(Path(f"/proc/{p}").exists() and _alive(p) for p in pids)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _send(town: Path, argv: list[str], stdout: int) -> socket.socket:
    """Send a request as the client does (stdin: /dev/null, stderr: ours)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(str(town / ".tt" / "cmd.sock"))
    request = encode_request(argv, str(town), 0o022, dict(os.environ))
    with open(os.devnull, "rb") as stdin:
        socket.send_fds(conn, [request], [stdin.fileno(), stdout, 2])
    return conn


def _read_int(conn: socket.socket) -> int:
    data = b""
    while len(data) < INT_SIZE:
        chunk = conn.recv(INT_SIZE - len(data))
        assert chunk, "the connection ended early"
        data += chunk
    return unpack_int(data)


def test_a_waiting_worker_takes_the_request_and_is_replaced(
    cmd_server: subprocess.Popen[bytes], town_dir: Path, tt: TT
) -> None:
    before = _workers(cmd_server.pid)
    read, write = os.pipe()
    with _send(town_dir, ["status"], write) as conn:
        os.close(write)
        pid = _read_int(conn)
        assert pid in before  # forked before the request came
        assert _read_int(conn) == 0
    with open(read, encoding="utf-8") as out:
        assert out.read() == tt("status").out
    after = _workers(cmd_server.pid, without={pid})
    assert len(after - before) == 1  # its replacement; the other one still waits


def test_requests_arriving_together_each_get_their_own_worker(
    cmd_server: subprocess.Popen[bytes], town_dir: Path, tt: TT
) -> None:
    _workers(cmd_server.pid)
    pipes = [os.pipe() for _ in range(2 * READY + 1)]
    conns = [_send(town_dir, ["status"], write) for _, write in pipes]  # all queued at once
    for _, write in pipes:
        os.close(write)
    pids = []
    for conn in conns:
        with conn:
            pids.append(_read_int(conn))
            assert _read_int(conn) == 0
    assert len(set(pids)) == len(pids)  # one request per worker, never one run twice
    expected = tt("status").out
    for read, _ in pipes:
        with open(read, encoding="utf-8") as out:
            assert out.read() == expected


def test_a_request_outlives_workers_killed_while_waiting(
    cmd_server: subprocess.Popen[bytes], town_dir: Path, tt: TT
) -> None:
    waiting = _workers(cmd_server.pid)
    os.kill(cmd_server.pid, signal.SIGSTOP)  # no replacement until the request is queued
    try:
        for pid in waiting:
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: _gone(waiting), "killed workers still running", DEADLINE_S)
        read, write = os.pipe()
        conn = _send(town_dir, ["status"], write)  # queued: nobody accepts it yet
        os.close(write)
    finally:
        os.kill(cmd_server.pid, signal.SIGCONT)
    with conn:
        assert _read_int(conn) not in waiting
        assert _read_int(conn) == 0
    with open(read, encoding="utf-8") as out:
        assert out.read() == tt("status").out


def test_a_worker_killed_mid_command_is_reported_and_not_run_again(
    cmd_server: subprocess.Popen[bytes], town_dir: Path, tt: TT
) -> None:
    _workers(cmd_server.pid)
    read, write = os.pipe()
    os.set_blocking(write, False)
    try:
        while True:
            os.write(write, b"x" * 4096)  # a full pipe: the command's first output blocks
    except BlockingIOError:
        os.set_blocking(write, True)
    with _send(town_dir, ["assign", "supervisor", "Work of a killed worker"], write) as conn:
        os.close(write)
        pid = _read_int(conn)
        wait_until(lambda: "Work of a killed worker" in tt("inbox", "supervisor").out,
                   "the command never assigned its task", DEADLINE_S)
        os.kill(pid, signal.SIGKILL)
        assert _read_int(conn) == -signal.SIGKILL  # the server reports how it ended
    os.close(read)
    _workers(cmd_server.pid, without={pid})  # settled: replacements wait, nothing re-ran
    assert tt("inbox", "supervisor").out.count("Work of a killed worker") == 1


def test_waiting_workers_end_with_a_killed_server(town_dir: Path) -> None:
    sock = town_dir / ".tt" / "cmd.sock"
    argv = [sys.executable, "-m", "tinytown.cli", "--command-server", str(town_dir)]
    server = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(sock.exists, "command server did not start", DEADLINE_S)
        waiting = _workers(server.pid)
    finally:
        server.kill()
        server.wait(timeout=30)
    wait_until(lambda: _gone(waiting), "workers outlived their server", DEADLINE_S)


def _in_child(block: bytearray, action: Callable[[set[int]], None]) -> bool:
    """Run ``action(pages of block)`` in a forked child; whether it then owns those pages."""
    address = ctypes.addressof(ctypes.c_char.from_buffer(block))
    pages = {address // prefault.PAGE + i for i in range(1, 32)}
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            action(pages)
            os.write(write, b"1" if pages <= set(prefault.owned_pages([])) else b"0")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with open(read, "rb") as report:
        return report.read() == b"1"


def test_a_child_owns_the_pages_it_wrote_or_populated() -> None:
    block = bytearray(b"\1" * 64 * prefault.PAGE)  # written: present in the parent

    def write(pages: set[int]) -> None:
        for i in range(1, 32):
            block[i * prefault.PAGE] = 2

    assert not _in_child(block, lambda pages: None)  # shared with the parent until written
    assert _in_child(block, write)
    def populate(pages: set[int]) -> None:
        prefault.populate(prefault.to_ranges(pages, prefault.writable_regions()))

    assert _in_child(block, populate)  # copied in advance, not written


def test_page_ranges_merge_runs_inside_the_mapped_regions() -> None:
    assert prefault.to_ranges({1, 2, 3, 7, 9, 40}, [(0, 8), (9, 1)]) == [(1, 3), (7, 1), (9, 1)]
    assert prefault.decode(prefault.encode([5, 6, 1 << 40])) == [5, 6, 1 << 40]


def test_a_server_whose_workers_cannot_start_gives_up(town_dir: Path) -> None:
    """Workers failing before any request: the server ends (tt then runs in-process)."""
    code = (
        "import sys\n"
        "from tinytown.cli import cmdworker, cmdserver\n"
        "def broken(*args):\n"
        "    raise RuntimeError('worker cannot start')\n"
        "cmdworker.work = broken\n"
        f"sys.exit(cmdserver.main([{str(town_dir)!r}]))\n"
    )
    server = subprocess.run([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=120, check=False)
    assert server.returncode == 0
    assert "workers in a row failed to start" in server.stderr
    assert not (town_dir / ".tt" / "cmd.sock").exists()


def test_without_pidfds_the_server_ends_at_once_and_tt_runs_in_process(tmp_path: Path) -> None:
    """macOS (no ``os.pidfd_open``), or a kernel/seccomp that refuses it: the server
    serves nothing (no traceback, no socket left, no worker forked in a loop)."""
    (tmp_path / ".tt").mkdir()
    for refuse in ("del os.pidfd_open",
                   "os.pidfd_open = lambda *a: (_ for _ in ()).throw(OSError(38, 'ENOSYS'))"):
        code = (f"import os\n{refuse}\nfrom tinytown.cli.cmdserver import main\n"
                f"raise SystemExit(main([{str(tmp_path)!r}]))\n")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=DEADLINE_S, check=False)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert not (tmp_path / ".tt" / "cmd.sock").exists()


def test_a_request_from_another_build_is_declined_and_runs_in_the_client(
    cmd_server: subprocess.Popen[bytes], town_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``tt`` of another version (upgraded since the server started) gets no pid:
    nothing runs in the server, and the client runs its own code instead."""
    _workers(cmd_server.pid)
    read, write = os.pipe()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(str(town_dir / ".tt" / "cmd.sock"))
    request = encode_request(["status"], str(town_dir), 0o022, dict(os.environ),
                             build="tinytown 0.0.1")
    with conn, open(os.devnull, "rb") as stdin:
        socket.send_fds(conn, [request], [stdin.fileno(), write, 2])
        os.close(write)
        assert conn.recv(INT_SIZE) == b""  # no pid: declined before anything ran
    with open(read, encoding="utf-8") as out:
        assert out.read() == ""
    with monkeypatch.context() as patch:  # (town_dir's chdir and REDIS_URL stay)
        patch.setattr(cmdclient, "build_id", lambda: "tinytown 0.0.1")
        assert cmdclient.try_command_server(["status"]) is None  # tt then runs it in-process
    sink = os.open(os.devnull, os.O_WRONLY)
    with _send(town_dir, ["status"], sink) as conn:  # this build is still served
        os.close(sink)
        assert _read_int(conn) > 0
        assert _read_int(conn) == 0
