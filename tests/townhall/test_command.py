"""The ``townhall`` console script and ``tt townhall``: start, serve, stop, refuse."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tinytown.config import new_town_config, save_town_config

LISTENING = re.compile(r"REST API listening on (http\S+)")
MCP_LISTENING = re.compile(r"MCP HTTP/SSE listening on (http\S+)")
START_TIMEOUT_S = 30
SHUTDOWN_BOUND_S = 10.0  # generous: the machine is shared; the chunk check is the real one


@pytest.fixture
def town_root(tmp_path: Path, town_name: str, redis_url: str) -> Path:
    root = tmp_path / "town"
    (root / ".tt" / "logs").mkdir(parents=True)
    save_town_config(root, new_town_config(town_name))
    return root


def env_for(tmp_path: Path, redis_url: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TINYTOWN_")}
    return {**env, "HOME": str(home), "REDIS_URL": redis_url}


def townhall_cmd() -> list[str]:
    return [sys.executable, "-c", "from tinytown.townhall.command import main; main()"]


@pytest.fixture
def launch(tmp_path: Path, redis_url: str) -> Iterator[object]:
    procs: list[subprocess.Popen[str]] = []

    def run(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen([*townhall_cmd(), *args], env=env_for(tmp_path, redis_url),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc

    yield run
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def wait_listening(proc: subprocess.Popen[str], pattern: re.Pattern[str] = LISTENING) -> str:
    assert proc.stderr is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        found = pattern.search(line)
        if found:
            return found.group(1)
    raise AssertionError(f"townhall did not start: {''.join(seen)}")


def test_serves_on_port_zero_and_exits_0_on_sigterm(launch: object, town_root: Path) -> None:
    proc = launch("-t", str(town_root), "rest", "-p", "0")  # type: ignore[operator]
    url = wait_listening(proc)
    assert not url.endswith(":0")
    r = httpx.get(f"{url}/v1/town", timeout=10)
    assert r.status_code == 200
    assert r.json()["root"] == str(town_root)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


def test_default_subcommand_is_rest_on_unix_socket(launch: object, town_root: Path,
                                                   tmp_path: Path) -> None:
    sock = tmp_path / "th.sock"
    proc = launch("--bind", f"unix:{sock}", "-t", str(town_root))  # type: ignore[operator]
    wait_listening(proc)
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock))) as client:
        assert client.get("http://townhall/health").json()["status"] == "ok"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0


def test_non_loopback_without_auth_refuses_to_start(launch: object, town_root: Path) -> None:
    proc = launch("-t", str(town_root), "rest", "-b", "0.0.0.0", "-p", "0")  # type: ignore[operator]
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "FATAL: Binding to non-loopback address 0.0.0.0:0 with auth.mode=none" in err
    assert "Traceback" not in err


def test_bad_bind_and_missing_town(launch: object, town_root: Path, tmp_path: Path) -> None:
    proc = launch("-t", str(town_root), "-b", "my-host")  # type: ignore[operator]
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "Invalid bind address 'my-host'" in err
    proc = launch("-t", str(tmp_path / "nowhere"))  # type: ignore[operator]
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "Town not initialized" in err
    assert "Traceback" not in err


def test_tt_townhall_help_lists_subcommands() -> None:
    out = subprocess.run([sys.executable, "-m", "tinytown.cli", "townhall", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for name in ("rest", "mcp-stdio", "mcp-http"):
        assert name in out


def test_mcp_http_subcommand_serves_the_mcp_app(launch: object, town_root: Path) -> None:
    proc = launch("-t", str(town_root), "mcp-http", "-p", "0")  # type: ignore[operator]
    url = wait_listening(proc, MCP_LISTENING)
    r = httpx.post(f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                   headers={"Accept": "application/json, text/event-stream"}, timeout=10)
    assert r.status_code < 500
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


def test_sigterm_with_an_open_event_stream_exits_promptly(launch: object,
                                                          town_root: Path) -> None:
    proc = launch("-t", str(town_root), "-p", "0")  # type: ignore[operator]
    url = wait_listening(proc)
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /v1/events/stream HTTP/1.1\r\nHost: t\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        elapsed = time.monotonic() - started
        sock.settimeout(5)
        rest = b""
        while chunk := sock.recv(4096):
            rest += chunk
    # The stream was ended by the server (the last chunk of a chunked body), not cut when
    # Hypercorn's graceful timeout ran out; ~0.9 s from SIGTERM to exit on an idle machine.
    assert rest.endswith(b"0\r\n\r\n"), rest[-40:]
    assert elapsed < SHUTDOWN_BOUND_S, f"exit took {elapsed:.2f} s"
