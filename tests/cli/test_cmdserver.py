"""The town's command server: ``tt`` hands agent-facing commands to a pre-forked server.

A real server process (``python -m tinytown.cli.cmdserver``) on a real town;
the client is :func:`tinytown.cli.cmdclient.try_command_server` or the
installed ``tt``. Output, exit codes, environment and working directory must
be exactly those of the same command run in-process.
"""

from __future__ import annotations

import os
import pty
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import TT
from tinytown.cli.cmdclient import (
    FORWARDED_SIGNALS,
    command_of,
    pack_int,
    town_of,
    try_command_server,
)


def test_routing_reads_town_and_command_like_the_parser() -> None:
    assert command_of(["-t", "x", "-v", "status"]) == "status"
    assert command_of(["--town=x", "task", "complete"]) == "task"
    assert command_of([]) is None
    assert town_of(["-t", "/a", "send", "--", "-t", "/b"]) == "/a"
    assert town_of(["--town=/c", "status"]) == "/c"


def test_no_server_means_in_process(town_dir: Path) -> None:
    assert try_command_server(["status"]) is None
    assert try_command_server(["start"]) is None  # never routed


def test_served_commands_match_in_process(
    cmd_server: subprocess.Popen[bytes], tt: TT, tt_proc: TT, capfd: pytest.CaptureFixture[str]
) -> None:
    here = tt("status")
    capfd.readouterr()
    assert try_command_server(["status"]) == 0
    served = capfd.readouterr()
    assert served.out == here.out
    # an error: same one line and exit code as in-process
    local = tt("inbox", "nobody")
    assert local.code != 0
    assert try_command_server(["inbox", "nobody"]) == local.code
    assert capfd.readouterr().err == local.err
    # the installed tt takes the same path, with its cwd and environment
    proc = tt_proc("status")
    assert (proc.code, proc.out) == (0, here.out)
    proc = tt_proc("inbox", "nobody")  # the client ends at once with the served status
    assert (proc.code, proc.out, proc.err) == (local.code, local.out, local.err)


def _on_a_tty(town: Path, *args: str, **env: str) -> tuple[int, bytes]:
    """Run the installed ``tt`` with a terminal as stdin, stdout and stderr."""
    exe = shutil.which("tt") or str(Path(sys.executable).with_name("tt"))
    master, slave = pty.openpty()
    proc = subprocess.Popen([exe, *args], stdin=slave, stdout=slave, stderr=slave, cwd=town,
                            env={**os.environ, **env})
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's last holder closed it
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.wait(timeout=60), out


def test_help_and_errors_on_a_terminal_match_in_process(
    cmd_server: subprocess.Popen[bytes], town_dir: Path
) -> None:
    for args in (["task", "complete", "--help"], ["inbox", "--help"], ["task", "complete", "x"]):
        served = _on_a_tty(town_dir, *args)
        assert served == _on_a_tty(town_dir, *args, TINYTOWN_CMDSERVER="0")
        assert b"\x1b[" in served[1] or args[-1] == "x"  # a terminal: styled help


def test_server_uses_the_clients_environment(
    cmd_server: subprocess.Popen[bytes], tt: TT, tt_proc: TT, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tt("assign", "supervisor", "first").code == 0
    agent_id = "0e522ec3-d821-4b6c-9dff-13617a4401d5"
    monkeypatch.setenv("TINYTOWN_AGENT_ID", agent_id)
    sent = tt_proc("send", "supervisor", "hello", "--info")
    local = tt("send", "supervisor", "hello", "--info")
    assert agent_id in local.out  # the sender comes from the environment
    assert (sent.code, sent.out, sent.err) == (local.code, local.out, local.err)


def test_server_ends_when_its_socket_is_removed(
    cmd_server: subprocess.Popen[bytes], town_dir: Path
) -> None:
    os.unlink(town_dir / ".tt" / "cmd.sock")
    cmd_server.wait(timeout=30)
    assert cmd_server.returncode == 0
    assert try_command_server(["status"]) is None


def test_the_runtime_runs_the_command_server_for_its_lifetime(town_dir: Path) -> None:
    sock = town_dir / ".tt" / "cmd.sock"
    argv = [sys.executable, "-m", "tinytown.runtime", "--town", str(town_dir), "--stay"]
    runtime = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not sock.exists():
            assert runtime.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert try_command_server(["list"]) == 0
    finally:
        runtime.terminate()
        runtime.wait(timeout=30)
    deadline = time.monotonic() + 30
    while sock.exists():  # the server ends with the runtime and removes its socket
        assert time.monotonic() < deadline, "command server outlived the runtime"
        time.sleep(0.05)
    assert try_command_server(["list"]) is None
    mark = f"--command-server\0{town_dir}\0".encode()
    while left := [p for p in Path("/proc").glob("[0-9]*") if _has_mark(p, mark)]:
        # nothing stays behind: neither the server nor its waiting workers
        assert time.monotonic() < deadline, f"left running: {left}"
        time.sleep(0.05)


def _has_mark(proc: Path, mark: bytes) -> bool:
    try:
        return mark in (proc / "cmdline").read_bytes() and _not_zombie(int(proc.name))
    except OSError:
        return False


def test_server_ends_when_its_runtime_dies_even_while_starting(town_dir: Path) -> None:
    server = [sys.executable, "-m", "tinytown.cli", "--command-server", str(town_dir)]
    parent_code = (
        "import os, subprocess, sys, time\n"
        f"p = subprocess.Popen({server!r} + ['--parent', str(os.getpid())],"
        " stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE,
                              text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.kill()  # SIGKILL while the server is still importing and warming up
    parent.wait(timeout=30)
    parent.stdout.close()
    deadline = time.monotonic() + 60
    while Path(f"/proc/{child}").exists() and _not_zombie(child):
        assert time.monotonic() < deadline, "the orphaned command server kept running"
        time.sleep(0.1)
    assert not (town_dir / ".tt" / "cmd.sock").exists()


def _not_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


Handlers = dict[int, Any]


def _status_against_a_fake_server(
    tmp_path: Path, serve: Callable[[socket.socket], None]
) -> tuple[int | None, Handlers, Handlers]:
    """``tt status`` sent to a fake server at ``.tt/cmd.sock`` that handles its one
    connection with ``serve`` (in a thread). Returns the status and the forwarded
    signals' handlers before and after (an ignored SIGINT left behind is inherited
    by every later subprocess)."""
    town = tmp_path / "t"
    (town / ".tt").mkdir(parents=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(town / ".tt" / "cmd.sock"))
    listener.listen(1)

    def accept_one() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        serve(conn)

    server = threading.Thread(target=accept_one)
    server.start()
    before = {sig: signal.getsignal(sig) for sig in FORWARDED_SIGNALS}
    try:
        status = try_command_server(["-t", str(town), "status"])
    finally:
        server.join(5)
        listener.close()
    return status, before, {sig: signal.getsignal(sig) for sig in FORWARDED_SIGNALS}


def test_a_server_that_resets_the_connection_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def reset_after_the_request(conn: socket.socket) -> None:
        conn.sendall(pack_int(os.getpid()))  # the command started (a worker's pid)
        # Linger 0: close with a reset, as a server killed mid-command does.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    status, before, after = _status_against_a_fake_server(tmp_path, reset_after_the_request)
    assert after == before
    err = capsys.readouterr().err
    assert status == 1
    assert err.splitlines() == [err.strip()]
    assert "went away before the command finished" in err
    assert "Traceback" not in err


def test_a_server_gone_before_the_command_started_means_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No worker's pid came back: the command never ran there, so it runs here (not "lost")."""

    def close_after_the_request(conn: socket.socket) -> None:  # a server ending, request queued
        conn.close()

    status, before, after = _status_against_a_fake_server(tmp_path, close_after_the_request)
    assert after == before
    assert status is None
    assert capsys.readouterr().err == ""


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to listen as another user")
def test_a_socket_of_another_user_gets_nothing(tmp_path: Path) -> None:
    """A ``.tt/cmd.sock`` served by another user (planted, or a symlink in a cloned repo)
    never receives the environment (secrets), the descriptors or the arguments."""
    town = tmp_path / "t"
    (town / ".tt").mkdir(parents=True)
    path = town / ".tt" / "cmd.sock"
    stranger = (
        "import os, socket, sys\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        f"s.bind({str(path)!r}); os.chmod({str(path)!r}, 0o777)\n"
        "os.setgid(65534); os.setuid(65534); s.listen(1)\n"  # its credentials: nobody's
        "print('ready', flush=True)\n"
        "conn, _ = s.accept(); conn.settimeout(5); got = b''\n"
        "try:\n"
        "    while chunk := conn.recv(65536): got += chunk\n"
        "except OSError: pass\n"
        "print(len(got), flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", stranger], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        assert try_command_server(["-t", str(town), "status"]) is None
        got = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert got.strip() == "0"
