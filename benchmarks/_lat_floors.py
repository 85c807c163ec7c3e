"""More floors for the hand-off: two threads, asyncio and uvloop, each on raw sockets.

Like :func:`benchmarks._lat_raw.trio_raw_handoff`, but the receiver blocked in
BLPOP is a thread (blocking ``recv``), an asyncio task, or an asyncio task on
uvloop. Each is the best a program built on that concurrency model can do, so
``Channel`` is reported against each of them as well as against Trio's.
"""

from __future__ import annotations

import asyncio
import queue
import socket
import threading
from time import perf_counter_ns

from benchmarks._common import BenchServer, blocked_clients, pack
from benchmarks._lat_harness import Keys2, wait_blocked_sync
from benchmarks._lat_raw import bulk_array_len


def _read_blocking(sock: socket.socket, buf: bytearray, length: int) -> bool:
    got = 0
    while got < length:
        n = sock.recv_into(buf)
        if n == 0:
            return False
        got += n
    return True


def threads_raw_handoff(server: BenchServer, keys: Keys2, n: int, warm: int) -> list[int]:
    """A thread blocked in ``recv`` on the BLPOP connection; the main thread sends."""
    a, b, probe = server.connect(), server.connect(), server.connect()
    blpop = pack("BLPOP", keys.request, 0)
    rpush = pack("RPUSH", keys.request, keys.payload)
    expect = bulk_array_len(keys.request, keys.payload)
    base = blocked_clients(probe)
    stamps: queue.SimpleQueue[int] = queue.SimpleQueue()

    def receiver() -> None:
        buf = bytearray(65536)
        while True:
            try:
                a.sendall(blpop)
                if not _read_blocking(a, buf, expect):
                    return
            except OSError:
                return
            stamps.put(perf_counter_ns())

    thread = threading.Thread(target=receiver, daemon=True)
    thread.start()
    samples: list[int] = []
    buf = bytearray(64)
    try:
        for i in range(warm + n):
            wait_blocked_sync(probe, base + 1)
            t0 = perf_counter_ns()
            b.sendall(rpush)
            _read_blocking(b, buf, 4)
            t1 = stamps.get(timeout=30)
            if i >= warm:
                samples.append(t1 - t0)
    finally:
        a.shutdown(socket.SHUT_RDWR)
        thread.join(timeout=10)
        for sock in (a, b, probe):
            sock.close()
    return samples


async def _asyncio_handoff(server: BenchServer, keys: Keys2, n: int, warm: int) -> list[int]:
    loop = asyncio.get_running_loop()
    a, b, probe = server.connect(), server.connect(), server.connect()
    a.setblocking(False)
    b.setblocking(False)
    blpop = pack("BLPOP", keys.request, 0)
    rpush = pack("RPUSH", keys.request, keys.payload)
    expect = bulk_array_len(keys.request, keys.payload)
    base = blocked_clients(probe)
    stamps: asyncio.Queue[int] = asyncio.Queue()

    async def read(sock: socket.socket, buf: bytearray, length: int) -> None:
        got = 0
        while got < length:
            got += await loop.sock_recv_into(sock, buf)

    async def receiver() -> None:
        buf = bytearray(65536)
        while True:
            await loop.sock_sendall(a, blpop)
            await read(a, buf, expect)
            stamps.put_nowait(perf_counter_ns())

    task = asyncio.create_task(receiver())
    samples: list[int] = []
    buf = bytearray(64)
    try:
        for i in range(warm + n):
            while blocked_clients(probe) < base + 1:  # noqa: ASYNC110 - polls Redis, no event
                await asyncio.sleep(0)
            t0 = perf_counter_ns()
            await loop.sock_sendall(b, rpush)
            await read(b, buf, 4)
            t1 = await stamps.get()
            if i >= warm:
                samples.append(t1 - t0)
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        for sock in (a, b, probe):
            sock.close()
    return samples


def asyncio_raw_handoff(server: BenchServer, keys: Keys2, n: int, warm: int) -> list[int]:
    """Two asyncio tasks (the standard event loop) over raw non-blocking sockets."""
    return asyncio.run(_asyncio_handoff(server, keys, n, warm))


def uvloop_raw_handoff(server: BenchServer, keys: Keys2, n: int, warm: int) -> list[int]:
    """Two asyncio tasks on uvloop over raw non-blocking sockets (needs ``uvloop``)."""
    import uvloop

    result: list[int] = uvloop.run(_asyncio_handoff(server, keys, n, warm))
    return result
