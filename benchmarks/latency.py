"""Latency: message hand-off, request/response and PING, ours against the floor and peers.

For each transport (a unix socket and TCP loopback, each on its own
redis-server) every client runs the same three patterns:

* ``handoff`` — a receiver blocked in Redis (``Channel.receive`` / BLPOP), a
  sender pushes; time from just before the send until the receiver has the value;
* ``reqresp`` — the sender pushes a request, a responder blocked on it pushes a
  reply, the sender waits for the reply; time until it has it;
* ``ping`` — PING round trips.

The samples of every series are taken in rounds, the clients interleaved
(the floor in every round, the order rotated each round), so that a burst of
load from other processes on the machine hits every client alike; the p50
of each round is kept in the JSON (``round_p50_us``) to show that noise.
Ratios are p50 (and p99) of a client divided by the floor's, same op, same
transport, same run.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Callable
from typing import Any

import trio

from benchmarks import _lat_clients as clients
from benchmarks import _lat_floors as floors
from benchmarks import _lat_raw as raw
from benchmarks._codec_cost import codec_costs
from benchmarks._common import (
    PIN,
    SCHED,
    BenchServer,
    Outcome,
    Plot,
    Table,
    bench_servers,
    summarize_ns,
)
from benchmarks._lat_harness import (
    async_handoff,
    async_ping,
    async_reqresp,
    sync_ping,
    thread_handoff,
    thread_reqresp,
)
from benchmarks.latency_report import build_tables

FLOOR = "floor (raw sockets)"
TRIO_RAW = "trio + raw sockets"
TRIO_HIREDIS = "trio + raw sockets + hiredis reader"
THREADS_RAW = "threads + raw sockets"
ASYNCIO_RAW = "asyncio + raw sockets"
UVLOOP_RAW = "uvloop + raw sockets"
OURS = "ours: Channel"
OURS_CLIENT = "ours: client only"
REDIS_PY = "redis-py sync (2 threads)"
REDIS_PY_1T = "redis-py sync (1 thread)"
REDIS_PY_THREAD = "redis-py via trio.to_thread"
COREDIS = "coredis on trio"

OPS = ("handoff", "reqresp", "ping")
Runner = Callable[[BenchServer, int, int], list[int]]


def _town() -> str:
    return f"bench-{uuid.uuid4().hex[:8]}"


def _trio(fn: Callable[..., Any], *args: Any) -> list[int]:
    result: list[int] = trio.run(fn, *args)
    return result


def _ours(op: str, codec: bool) -> Runner:
    def run(server: BenchServer, n: int, warm: int) -> list[int]:
        async def main() -> list[int]:
            async with clients.open_ours(server, _town(), codec) as ops:
                return await _async_op(op, ops, server, n, warm)

        return _trio(main)

    return run


def _coredis(op: str) -> Runner:
    def run(server: BenchServer, n: int, warm: int) -> list[int]:
        async def main() -> list[int]:
            async with clients.open_coredis(server, _town()) as ops:
                return await _async_op(op, ops, server, n, warm)

        return _trio(main)

    return run


def _to_thread(op: str) -> Runner:
    def run(server: BenchServer, n: int, warm: int) -> list[int]:
        async def main() -> list[int]:
            with clients.open_redis_py(server, _town()) as sync_ops:
                ops = clients.ToThreadOps(sync_ops)
                return await _async_op(op, ops, server, n, warm)

        return _trio(main)

    return run


def _redis_py(op: str) -> Runner:
    def run(server: BenchServer, n: int, warm: int) -> list[int]:
        with clients.open_redis_py(server, _town()) as ops:
            if op == "ping":
                return sync_ping(ops, n, warm)
            probe = server.connect()
            try:
                loop = thread_handoff if op == "handoff" else thread_reqresp
                return loop(ops, probe, n, warm)
            finally:
                probe.close()

    return run


async def _async_op(op: str, ops: Any, server: BenchServer, n: int, warm: int) -> list[int]:
    if op == "ping":
        return await async_ping(ops, n, warm)
    probe = server.connect()
    try:
        loop = async_handoff if op == "handoff" else async_reqresp
        return await loop(ops, probe, n, warm)
    finally:
        probe.close()


def _floor(op: str) -> Runner:
    def run(server: BenchServer, n: int, warm: int) -> list[int]:
        keys, _, _ = clients.make_keys(_town())
        if op == "handoff":
            return raw.floor_handoff(server, keys, n, warm)
        if op == "reqresp":
            return raw.floor_reqresp(server, keys, n, warm)
        return raw.floor_ping(server, n, warm)

    return run


def _trio_raw(op: str) -> Runner:
    def run(server: BenchServer, n: int, warm: int) -> list[int]:
        if op == "ping":
            return _trio(raw.trio_raw_ping, server, n, warm)
        keys, _, _ = clients.make_keys(_town())
        return _trio(raw.trio_raw_handoff, server, keys, n, warm)

    return run


def _trio_floor(server: BenchServer, n: int, warm: int) -> list[int]:
    """The Trio floor as issue 12 defines it (replies parsed by hiredis)."""
    keys, _, _ = clients.make_keys(_town())
    return _trio(raw.trio_hiredis_handoff, server, keys, n, warm)


def _other_floor(fn: Callable[[BenchServer, Any, int, int], list[int]]) -> Runner:
    def run(server: BenchServer, n: int, warm: int) -> list[int]:
        keys, _, _ = clients.make_keys(_town())
        return fn(server, keys, n, warm)

    return run


def _one_thread(server: BenchServer, n: int, warm: int) -> list[int]:
    return clients.redis_py_one_thread_handoff(server, _town(), n, warm)


def series_plan(op: str) -> list[tuple[str, Runner]]:
    """The clients measured for one op, in order (the floor is added around them)."""
    plan: list[tuple[str, Runner]] = []
    if op in ("handoff", "ping"):
        plan.append((TRIO_RAW, _trio_raw(op)))
    if op == "handoff":
        plan.append((TRIO_HIREDIS, _trio_floor))
        plan.append((THREADS_RAW, _other_floor(floors.threads_raw_handoff)))
        plan.append((ASYNCIO_RAW, _other_floor(floors.asyncio_raw_handoff)))
        plan.append((UVLOOP_RAW, _other_floor(floors.uvloop_raw_handoff)))
    if op != "ping":
        plan.append((OURS, _ours(op, codec=True)))
    plan.append((OURS_CLIENT, _ours(op, codec=False)))
    plan.append((REDIS_PY, _redis_py(op)))
    if op == "handoff":
        plan.append((REDIS_PY_1T, _one_thread))
    plan.append((REDIS_PY_THREAD, _to_thread(op)))
    plan.append((COREDIS, _coredis(op)))
    return plan


def _measure(
    outcome: Outcome, what: str, runner: Runner, server: BenchServer, n: int, warm: int
) -> list[int] | None:
    gc.collect()
    try:
        return runner(server, n, warm)
    except Exception as exc:  # a peer failing here is a result, not a crash
        reason = f"{type(exc).__name__}: {exc}".strip()
        outcome.skip_part(what, reason)
        return None


def run(quick: bool) -> Outcome:
    """Measure every client on both transports, interleaved in rounds."""
    n, warm, rounds = (1000, 50, 4) if quick else (5000, 50, 20)
    outcome = Outcome(
        "latency",
        params={
            "samples": n, "warmup_per_round": warm, "rounds": rounds, "ops": list(OPS),
            "pin": PIN["mode"],
        },
    )  # fmt: skip
    samples: dict[tuple[str, str, str], list[int]] = {}
    round_p50: dict[str, list[float]] = {}
    failed: set[tuple[str, str, str]] = set()
    with bench_servers("unix", "tcp", pin=PIN["mode"], sched=SCHED["mode"]) as servers:
        outcome.params["sched"] = SCHED["applied"]
        for transport, server in servers.items():
            for op in OPS:
                plan = [(FLOOR, _floor(op)), *series_plan(op)]
                for index in range(rounds):
                    chunk = n // rounds + (1 if index < n % rounds else 0)
                    # Rotate the order so no client always runs right after another.
                    for client, runner in plan[index % len(plan) :] + plan[: index % len(plan)]:
                        key = (op, transport, client)
                        if key in failed:
                            continue
                        got = _measure(outcome, "/".join(key), runner, server, chunk, warm)
                        if got is None:
                            failed.add(key)
                            samples.pop(key, None)
                            continue
                        samples.setdefault(key, []).extend(got)
                        round_p50.setdefault("/".join(key), []).append(
                            round(summarize_ns(got)["p50_us"], 1)
                        )
    outcome.data["round_p50_us"] = round_p50
    series = []
    for (op, transport, client), values in samples.items():
        ordered = sorted(values)
        step = max(1, len(ordered) // 100)
        series.append({
            "op": op, "transport": transport, "client": client,
            **summarize_ns(values),
            "best_round_p50_us": min(round_p50["/".join((op, transport, client))]),
            "quantiles_us": [v / 1000 for v in ordered[::step]],
        })  # fmt: skip
    outcome.data["series"] = series
    outcome.tables.extend(build_tables(series))
    outcome.data["ratios"] = outcome.tables[1].rows if len(outcome.tables) > 1 else []
    costs, figures = codec_costs(quick)
    outcome.tables.append(costs)
    outcome.data["cpu_per_piece_us"] = figures
    for op in OPS:
        panels: dict[str, dict[str, list[float]]] = {}
        for (s_op, transport, client), values in samples.items():
            if s_op == op:
                panels.setdefault(transport, {})[client] = [v / 1000 for v in values]
        if panels:
            outcome.plots.append(Plot(
                kind="distribution", name=f"latency-{op}",
                title=f"Latency distribution: {op} (ECDF)",
                data={"panels": panels}, xlabel="µs", ylabel="fraction ≤ x", log_x=True,
            ))  # fmt: skip
    outcome.notes.append(
        "handoff: time from just before the send until the blocked receiver has the value "
        "(ours: a decoded Message); reqresp: send, a responder blocked on it replies, time "
        "until the sender has the reply. Before each sample the receiver is confirmed "
        "blocked in Redis (INFO clients, outside the timed part). Channel.receive BLPOPs "
        "two keys (urgent queue, inbox); the others BLPOP one."
    )
    outcome.notes.append(
        f"CPU placement: --pin {PIN['mode']} (same: the servers and the harness share one "
        "CPU, the default; split: two CPUs; none: the OS decides). A hand-off whose ends "
        "run on different CPUs pays a cross-CPU wake-up (≈ 50 µs on this VM); unpinned, "
        "each series mixes both regimes and the ratios mean little."
    )
    outcome.notes.append(
        f"Scheduling: {SCHED['applied']} (fifo: the harness runs SCHED_FIFO at the lowest "
        "real-time priority, the redis-servers normally, so a reply Redis writes wakes the "
        "harness at once and the receiver's task always runs first. Under the normal policy "
        "Redis sometimes writes both replies first, Trio runs the two woken tasks in random "
        "order, and the samples where the sender runs first are ≈ 6 µs slower: two modes "
        "whose mix the scheduler decides, with the p50 between them)."
    )
    outcome.notes.append(
        f"redis-py sync (2 threads): a thread blocks in BLPOP and takes t1; "
        f"{REDIS_PY_1T}: send_command(BLPOP) on one connection, RPUSH, then read_response, "
        "no thread hand-off."
    )
    return outcome


__all__ = ["Table", "run"]
