"""The floor: the same hand-offs with raw sockets, no client library.

``floor_*`` run in one thread with a ``selectors`` selector and pre-packed
commands; replies are not parsed, only counted to their known length. This is
as fast as Python can see Redis hand a value from an RPUSH on one connection
to a BLPOP pending on another. ``trio_raw_*`` do the same from Trio tasks
(``trio.lowlevel.wait_readable``), which isolates Trio's scheduling cost from
the client's.
"""

from __future__ import annotations

import selectors
import socket
from time import perf_counter_ns
from typing import Any

import hiredis
import trio

from benchmarks._common import BenchServer, blocked_clients, pack
from benchmarks._lat_harness import Keys2, wait_blocked_sync

PONG = b"+PONG\r\n"
PING = pack("PING")


def bulk_array_len(*items: str) -> int:
    """Byte length of a RESP2 array of bulk strings (the BLPOP reply)."""
    total = len(f"*{len(items)}\r\n")
    for item in items:
        size = len(item.encode())
        total += len(f"${size}\r\n") + size + 2
    return total


class _Waiter:
    """Reads a reply of known length from a non-blocking socket, waiting with a selector."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.selector = selectors.DefaultSelector()
        self.selector.register(sock, selectors.EVENT_READ)
        self.buf = bytearray(65536)

    def read(self, length: int) -> None:
        got = 0
        while got < length:
            self.selector.select()
            try:
                got += self.sock.recv_into(self.buf)
            except BlockingIOError:
                continue

    def close(self) -> None:
        self.selector.close()
        self.sock.close()


def floor_handoff(server: BenchServer, keys: Keys2, n: int, warm: int) -> list[int]:
    """RPUSH on one socket wakes a BLPOP pending on another; time until it is read."""
    a, b, probe = _Waiter(server.connect()), _Waiter(server.connect()), server.connect()
    blpop = pack("BLPOP", keys.request, 0)
    rpush = pack("RPUSH", keys.request, keys.payload)
    expect = bulk_array_len(keys.request, keys.payload)
    base = blocked_clients(probe)
    samples: list[int] = []
    try:
        for i in range(warm + n):
            a.sock.send(blpop)
            wait_blocked_sync(probe, base + 1)
            t0 = perf_counter_ns()
            b.sock.send(rpush)
            a.read(expect)
            t1 = perf_counter_ns()
            b.read(4)  # ":1\r\n"
            if i >= warm:
                samples.append(t1 - t0)
    finally:
        a.close()
        b.close()
        probe.close()
    return samples


def floor_reqresp(server: BenchServer, keys: Keys2, n: int, warm: int) -> list[int]:
    """Request to a pending BLPOP, whose reader pushes a reply to another pending BLPOP."""
    req_send, req_recv = _Waiter(server.connect()), _Waiter(server.connect())
    resp_recv, resp_send = _Waiter(server.connect()), _Waiter(server.connect())
    probe = server.connect()
    arm_req = pack("BLPOP", keys.request, 0)
    arm_reply = pack("BLPOP", keys.reply, 0)
    push_req = pack("RPUSH", keys.request, keys.payload)
    push_reply = pack("RPUSH", keys.reply, keys.reply_payload)
    expect_req = bulk_array_len(keys.request, keys.payload)
    expect_reply = bulk_array_len(keys.reply, keys.reply_payload)
    base = blocked_clients(probe)
    samples: list[int] = []
    try:
        for i in range(warm + n):
            resp_recv.sock.send(arm_req)
            req_recv.sock.send(arm_reply)
            wait_blocked_sync(probe, base + 2)
            t0 = perf_counter_ns()
            req_send.sock.send(push_req)
            resp_recv.read(expect_req)
            resp_send.sock.send(push_reply)
            req_recv.read(expect_reply)
            t1 = perf_counter_ns()
            req_send.read(4)
            resp_send.read(4)
            if i >= warm:
                samples.append(t1 - t0)
    finally:
        for waiter in (req_send, req_recv, resp_recv, resp_send):
            waiter.close()
        probe.close()
    return samples


def floor_ping(server: BenchServer, n: int, warm: int) -> list[int]:
    """PING round trip on a blocking socket."""
    sock = server.connect()
    samples: list[int] = []
    try:
        for i in range(warm + n):
            t0 = perf_counter_ns()
            sock.sendall(PING)
            got = b""
            while len(got) < len(PONG):
                got += sock.recv(64)
            t1 = perf_counter_ns()
            if i >= warm:
                samples.append(t1 - t0)
    finally:
        sock.close()
    return samples


async def _trio_read(sock: socket.socket, buf: bytearray, length: int) -> None:
    got = 0
    while got < length:
        await trio.lowlevel.wait_readable(sock)
        got += sock.recv_into(buf)


async def trio_raw_handoff(server: BenchServer, keys: Keys2, n: int, warm: int) -> list[int]:
    """The hand-off between two Trio tasks over raw non-blocking sockets (replies unparsed)."""
    return await _trio_handoff(server, keys, n, warm, parse=False)


async def trio_hiredis_handoff(
    server: BenchServer, keys: Keys2, n: int, warm: int
) -> list[int]:
    """The Trio floor as issue 12 and ARCHITECTURE.md define it: the same hand-off,
    each reply parsed by a ``hiredis.Reader`` (the receiver has the popped value)."""
    return await _trio_handoff(server, keys, n, warm, parse=True)


async def _trio_parse(sock: socket.socket, buf: bytearray, reader: hiredis.Reader) -> Any:
    reply = reader.gets()
    while reply is False:
        await trio.lowlevel.wait_readable(sock)
        got = sock.recv_into(buf)
        reader.feed(buf, 0, got)  # type: ignore[arg-type]  # stub says bytes; any buffer works
        reply = reader.gets()
    return reply


async def _trio_handoff(
    server: BenchServer, keys: Keys2, n: int, warm: int, *, parse: bool
) -> list[int]:
    a, b, probe = server.connect(), server.connect(), server.connect()
    a.setblocking(False)
    b.setblocking(False)
    blpop = pack("BLPOP", keys.request, 0)
    rpush = pack("RPUSH", keys.request, keys.payload)
    expect = bulk_array_len(keys.request, keys.payload)
    base = blocked_clients(probe)
    send_t1, recv_t1 = trio.open_memory_channel[int](1)
    samples: list[int] = []

    async def receiver() -> None:
        buf = bytearray(65536)
        reader = hiredis.Reader()
        want = keys.payload.encode()
        while True:
            a.send(blpop)
            if parse:
                value = (await _trio_parse(a, buf, reader))[1]
                assert value == want
            else:
                await _trio_read(a, buf, expect)
            send_t1.send_nowait(perf_counter_ns())

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receiver)
            buf = bytearray(64)
            reader = hiredis.Reader()
            for i in range(warm + n):
                while blocked_clients(probe) < base + 1:
                    await trio.lowlevel.checkpoint()
                t0 = perf_counter_ns()
                b.send(rpush)
                if parse:
                    await _trio_parse(b, buf, reader)
                else:
                    await _trio_read(b, buf, 4)
                t1 = await recv_t1.receive()
                if i >= warm:
                    samples.append(t1 - t0)
            nursery.cancel_scope.cancel()
    finally:
        for sock in (a, b, probe):
            sock.close()
    return samples


async def trio_raw_ping(server: BenchServer, n: int, warm: int) -> list[int]:
    """PING round trip from a Trio task over a raw non-blocking socket."""
    sock = server.connect()
    sock.setblocking(False)
    buf = bytearray(64)
    samples: list[int] = []
    try:
        for i in range(warm + n):
            t0 = perf_counter_ns()
            sock.send(PING)
            await _trio_read(sock, buf, len(PONG))
            t1 = perf_counter_ns()
            if i >= warm:
                samples.append(t1 - t0)
    finally:
        sock.close()
    return samples
