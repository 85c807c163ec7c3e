"""The timing loops shared by every client: hand-off, request/response, PING.

A client is described by :class:`AsyncOps` (Trio) or :class:`SyncOps`
(threads). Before each sample the loop waits, through a separate raw probe
connection (``INFO clients``), until the receiver is really blocked in
Redis, so every sample is a true hand-off to a waiting receiver. The probe
runs outside the timed section. At the end a stop flag plus one last message
lets the receiver return by itself (no thread is left blocked in Redis).
"""

from __future__ import annotations

import queue
import socket
import threading
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any, Protocol

import trio

from benchmarks._common import blocked_clients


@dataclass(frozen=True)
class Keys2:
    """Keys and payloads of one series: requests go to ``request``, replies to ``reply``.

    ``request_id``/``reply_id`` are the agent ids whose inboxes these keys are.
    """

    request: str
    reply: str
    payload: str
    reply_payload: str
    request_id: Any = None
    reply_id: Any = None


def wait_blocked_sync(probe: socket.socket, count: int) -> None:
    """Busy-wait (outside the timed section) until ``count`` clients block in Redis."""
    while blocked_clients(probe) < count:
        pass


class AsyncOps(Protocol):
    """What a Trio client must do for the loops."""

    async def push_request(self) -> None: ...
    async def pop_request(self) -> Any: ...
    async def push_reply(self, request: Any) -> None: ...
    async def pop_reply(self) -> Any: ...
    async def ping(self) -> None: ...


class SyncOps(Protocol):
    """What a blocking client must do for the loops (thread-safe)."""

    def push_request(self) -> None: ...
    def pop_request(self) -> Any: ...
    def push_reply(self, request: Any) -> None: ...
    def pop_reply(self) -> Any: ...
    def ping(self) -> None: ...


async def _wait_blocked(probe: socket.socket, count: int) -> None:
    while blocked_clients(probe) < count:
        await trio.lowlevel.checkpoint()


async def async_handoff(ops: AsyncOps, probe: socket.socket, n: int, warm: int) -> list[int]:
    """One task waits in ``pop_request``; time from ``push_request`` until it has the value."""
    base = blocked_clients(probe)
    send_t1, recv_t1 = trio.open_memory_channel[int](1)
    stopping = False
    samples: list[int] = []

    async def receiver() -> None:
        while True:
            await ops.pop_request()
            if stopping:
                return
            send_t1.send_nowait(perf_counter_ns())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receiver)
        for i in range(warm + n):
            await _wait_blocked(probe, base + 1)
            t0 = perf_counter_ns()
            await ops.push_request()
            t1 = await recv_t1.receive()
            if i >= warm:
                samples.append(t1 - t0)
        stopping = True
        await ops.push_request()
    return samples


async def async_reqresp(ops: AsyncOps, probe: socket.socket, n: int, warm: int) -> list[int]:
    """Time from ``push_request`` to ``pop_reply`` returning; a responder task echoes."""
    base = blocked_clients(probe)
    stopping = False
    samples: list[int] = []

    async def responder() -> None:
        while True:
            request = await ops.pop_request()
            if stopping:
                return
            await ops.push_reply(request)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(responder)
        for i in range(warm + n):
            await _wait_blocked(probe, base + 1)
            t0 = perf_counter_ns()
            await ops.push_request()
            await ops.pop_reply()
            t1 = perf_counter_ns()
            if i >= warm:
                samples.append(t1 - t0)
        stopping = True
        await ops.push_request()
    return samples


async def async_ping(ops: AsyncOps, n: int, warm: int) -> list[int]:
    """PING round trips, one after another."""
    samples: list[int] = []
    for i in range(warm + n):
        t0 = perf_counter_ns()
        await ops.ping()
        t1 = perf_counter_ns()
        if i >= warm:
            samples.append(t1 - t0)
    return samples


def thread_handoff(ops: SyncOps, probe: socket.socket, n: int, warm: int) -> list[int]:
    """A thread blocks in ``pop_request``; the main thread pushes; t1 is taken in that thread."""
    base = blocked_clients(probe)
    stamps: queue.SimpleQueue[int] = queue.SimpleQueue()
    stop = threading.Event()

    def receiver() -> None:
        while True:
            ops.pop_request()
            if stop.is_set():
                return
            stamps.put(perf_counter_ns())

    thread = threading.Thread(target=receiver, name="bench-receiver", daemon=True)
    thread.start()
    samples: list[int] = []
    try:
        for i in range(warm + n):
            wait_blocked_sync(probe, base + 1)
            t0 = perf_counter_ns()
            ops.push_request()
            t1 = stamps.get()
            if i >= warm:
                samples.append(t1 - t0)
    finally:
        stop.set()
        ops.push_request()
        thread.join(timeout=10)
    return samples


def thread_reqresp(ops: SyncOps, probe: socket.socket, n: int, warm: int) -> list[int]:
    """A responder thread echoes; the main thread pushes and blocks for the reply."""
    base = blocked_clients(probe)
    stop = threading.Event()

    def responder() -> None:
        while True:
            request = ops.pop_request()
            if stop.is_set():
                return
            ops.push_reply(request)

    thread = threading.Thread(target=responder, name="bench-responder", daemon=True)
    thread.start()
    samples: list[int] = []
    try:
        for i in range(warm + n):
            wait_blocked_sync(probe, base + 1)
            t0 = perf_counter_ns()
            ops.push_request()
            ops.pop_reply()
            t1 = perf_counter_ns()
            if i >= warm:
                samples.append(t1 - t0)
    finally:
        stop.set()
        ops.push_request()
        thread.join(timeout=10)
    return samples


def sync_ping(ops: SyncOps, n: int, warm: int) -> list[int]:
    """PING round trips from the calling thread."""
    samples: list[int] = []
    for i in range(warm + n):
        t0 = perf_counter_ns()
        ops.ping()
        t1 = perf_counter_ns()
        if i >= warm:
            samples.append(t1 - t0)
    return samples
