"""Throughput: messages per second into inboxes, ours against raw pipelined RPUSH.

Cases, on a unix socket and on TCP loopback:

* ``raw pipelined RPUSH`` — pre-packed RPUSH commands written in batches on a
  blocking socket, replies counted: the floor;
* ``ours: client pipeline`` — ``redis.pipeline().cmd("RPUSH", …)`` batches (packing
  included) of the same payload;
* ``ours: Channel.send_many`` — batches of ``Message`` objects (JSON encoding
  included);
* ``raw RPUSH, one at a time`` and ``ours: Channel.send, one at a time`` — a
  round trip per message;
* ``Channel N×M`` — N sender tasks calling ``Channel.send`` one message at a
  time, M receiver tasks in ``Channel.receive``; time until the last message
  is received.

Each case runs ``repeats`` times; the median rate is reported.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from time import perf_counter
from typing import Any

import trio

from benchmarks._common import (
    BenchServer,
    Outcome,
    Plot,
    Table,
    bench_servers,
    median,
    pack,
    ratio,
)

BATCH = 1000


def _message(to: Any) -> Any:
    from tinytown.models import SUPERVISOR, Message, MessageType

    return Message(from_=SUPERVISOR, to=to, kind=MessageType.TaskAssign(task_id=str(uuid.uuid4())))


def _town() -> str:
    return f"bench-{uuid.uuid4().hex[:8]}"


def raw_pipelined(server: BenchServer, key: str, payload: str, total: int) -> float:
    """Seconds to RPUSH ``total`` payloads in pipelined batches over a raw socket."""
    batch = pack("RPUSH", key, payload) * BATCH
    sock = server.connect()
    try:
        started = perf_counter()
        for _ in range(total // BATCH):
            sock.sendall(batch)
            seen = 0
            while seen < BATCH:
                seen += sock.recv(65536).count(b"\n")  # one "\n" per ":<n>\r\n" reply
        elapsed = perf_counter() - started
        sock.sendall(pack("DEL", key))
        sock.recv(64)
    finally:
        sock.close()
    return elapsed


def raw_one_at_a_time(server: BenchServer, key: str, payload: str, total: int) -> float:
    """Seconds for ``total`` RPUSH round trips, one after another, over a raw socket."""
    command = pack("RPUSH", key, payload)
    sock = server.connect()
    try:
        started = perf_counter()
        for _ in range(total):
            sock.sendall(command)
            data = sock.recv(64)
            while not data.endswith(b"\r\n"):
                data += sock.recv(64)
        elapsed = perf_counter() - started
        sock.sendall(pack("DEL", key))
        sock.recv(64)
    finally:
        sock.close()
    return elapsed


async def ours_sends(server: BenchServer, mode: str, total: int) -> float:
    """Seconds for ``total`` sends with our client: ``pipeline``, ``send_many`` or ``send``."""
    from tinytown.channel import Channel
    from tinytown.codec import message_to_json
    from tinytown.models import AgentId
    from tinytown.redis.client import open_redis

    town, to = _town(), AgentId.new()
    async with open_redis(server.url) as redis:
        channel = Channel(redis, town)
        messages = [_message(to) for _ in range(BATCH)]
        key, payload = channel.keys.inbox(to), message_to_json(messages[0])
        started = perf_counter()
        if mode == "pipeline":
            for _ in range(total // BATCH):
                pipe = redis.pipeline()
                for _ in range(BATCH):
                    pipe.cmd("RPUSH", key, payload)
                await pipe.execute()
        elif mode == "send_many":
            for _ in range(total // BATCH):
                await channel.send_many(messages)
        else:
            for i in range(total):
                await channel.send(messages[i % BATCH])
        elapsed = perf_counter() - started
        queued = await redis.execute("LLEN", key)
        await redis.execute("DEL", key)
    if queued != total:
        raise RuntimeError(f"{mode}: {queued} messages queued, expected {total}")
    return elapsed


async def channel_n_by_m(server: BenchServer, senders: int, receivers: int, total: int) -> float:
    """Seconds until ``receivers`` tasks got all ``total`` messages from ``senders`` tasks."""
    from tinytown.channel import Channel
    from tinytown.models import AgentId
    from tinytown.redis.client import open_redis

    per_sender, per_receiver = total // senders, total // receivers
    targets = [AgentId.new() for _ in range(receivers)]
    async with open_redis(server.url, max_connections=senders + receivers + 4) as redis:
        channel = Channel(redis, _town())
        messages = [_message(aid) for aid in targets]
        ready = trio.Event()

        async def sender(index: int) -> None:
            await ready.wait()
            for i in range(per_sender):
                await channel.send(messages[(index + i) % receivers])

        async def receiver(aid: AgentId) -> None:
            for _ in range(per_receiver):
                if await channel.receive(aid, timeout=30) is None:
                    raise RuntimeError("a receiver waited 30 s for a message")

        started = 0.0
        async with trio.open_nursery() as nursery:
            for aid in targets:
                nursery.start_soon(receiver, aid)
            for index in range(senders):
                nursery.start_soon(sender, index)
            await trio.sleep(0.05)  # receivers blocked in BLPOP before the clock starts
            started = perf_counter()
            ready.set()
        return perf_counter() - started


def _cases(
    server: BenchServer, total: int, single: int, grid: list[tuple[int, int]], nxm_total: int
) -> list[tuple[str, int, Callable[[], float]]]:
    """(name, messages, a function returning the seconds it took) of every case."""
    from tinytown.codec import message_to_json
    from tinytown.models import AgentId

    payload = message_to_json(_message(AgentId.new()))
    key = f"bench-raw-{uuid.uuid4().hex[:8]}"
    cases: list[tuple[str, int, Callable[[], float]]] = [
        ("raw pipelined RPUSH", total, partial(raw_pipelined, server, key, payload, total)),
        ("ours: client pipeline", total, partial(trio.run, ours_sends, server, "pipeline", total)),
        (
            "ours: Channel.send_many",
            total,
            partial(trio.run, ours_sends, server, "send_many", total),
        ),
        (
            "raw RPUSH, one at a time",
            single,
            partial(raw_one_at_a_time, server, key, payload, single),
        ),
        (
            "ours: Channel.send, one at a time",
            single,
            partial(trio.run, ours_sends, server, "send", single),
        ),
    ]
    for n, m in grid:
        cases.append(
            (
                f"Channel {n} senders × {m} receivers",
                nxm_total,
                partial(trio.run, channel_n_by_m, server, n, m, nxm_total),
            )
        )
    return cases


def run(quick: bool) -> Outcome:
    total, single, repeats = (20_000, 2_000, 1) if quick else (100_000, 10_000, 3)
    grid = [(1, 1), (4, 4)] if quick else [(1, 1), (4, 4), (16, 16), (16, 1), (1, 16)]
    nxm_total = 4_000 if quick else 16_000
    outcome = Outcome("throughput", params={
        "pipelined_messages": total, "batch": BATCH, "one_at_a_time_messages": single,
        "n_by_m_messages": nxm_total, "repeats": repeats})  # fmt: skip
    table = Table(
        "Messages per second (median of repeats)",
        ["case", "transport", "messages", "msgs/s", "vs raw pipelined", "vs raw 1-by-1"],
    )
    curves: dict[str, dict[str, list[float]]] = {}
    results: list[dict[str, Any]] = []
    with bench_servers("unix", "tcp") as servers:
        for transport, server in servers.items():
            cases = _cases(server, total, single, grid, nxm_total)
            rates: dict[str, float] = {}
            for name, count, fn in cases:
                try:
                    rates[name] = count / median([fn() for _ in range(repeats)])
                except Exception as exc:  # one case failing must not hide the others
                    outcome.skip_part(f"{name} ({transport})", f"{type(exc).__name__}: {exc}")
                    continue
                results.append(
                    {
                        "case": name,
                        "transport": transport,
                        "messages": count,
                        "msgs_per_s": rates[name],
                    }
                )
                table.rows.append(
                    [
                        name,
                        transport,
                        count,
                        round(rates[name]),
                        _r(ratio(rates[name], rates.get("raw pipelined RPUSH"))),
                        _r(ratio(rates[name], rates.get("raw RPUSH, one at a time"))),
                    ]
                )
            square = [
                (n, rates.get(f"Channel {n} senders × {m} receivers")) for n, m in grid if n == m
            ]
            curves[transport] = {"x": [n for n, r in square if r], "y": [r for _, r in square if r]}
    outcome.data["results"] = results
    outcome.tables.append(table)
    outcome.plots.append(Plot(
        kind="curves", name="throughput-nxm", title="Channel: N senders × N receivers",
        data={"panels": {"messages/s": curves}}, xlabel="N", ylabel="messages/s", log_x=True,
    ))  # fmt: skip
    outcome.notes.append(
        "The raw cases send pre-packed bytes and count replies without parsing them; ours "
        "pack every command, and Channel also encodes every Message to JSON."
    )
    return outcome


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
