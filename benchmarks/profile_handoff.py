"""Profile the Channel hand-off: ``python -m benchmarks.profile_handoff [--cprofile] [...]``.

Runs the latency benchmark's hand-off loop (a Trio task blocked in
``Channel.receive``, another sending) on a fresh unix-socket redis-server for
``--samples`` hand-offs. With ``--cprofile`` it prints the functions with the
most own time; without it, run it under a sampling profiler, for example::

    py-spy record --rate 2000 -o handoff.svg -- python -m benchmarks.profile_handoff

``--client`` profiles our Redis client alone (no message codec) instead.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import uuid
from time import perf_counter
from typing import Literal

import trio

from benchmarks._common import BenchServer, bench_servers, summarize_ns
from benchmarks._lat_clients import open_ours
from benchmarks._lat_harness import async_handoff


async def _loop(server: BenchServer, samples: int, codec: bool) -> list[int]:
    async with open_ours(server, f"bench-{uuid.uuid4().hex[:8]}", codec) as ops:
        probe = server.connect()
        try:
            return await async_handoff(ops, probe, samples, 200)
        finally:
            probe.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_handoff")
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--cprofile", action="store_true", help="profile with cProfile")
    parser.add_argument("--client", action="store_true", help="our client only, no codec")
    parser.add_argument("--tcp", action="store_true", help="TCP loopback, not a unix socket")
    args = parser.parse_args()
    transport: Literal["unix", "tcp"] = "tcp" if args.tcp else "unix"
    with bench_servers(transport, pin="same", sched="fifo") as servers:
        server = servers[transport]
        profiler = cProfile.Profile() if args.cprofile else None
        started = perf_counter()
        if profiler is not None:
            profiler.enable()
        got = trio.run(_loop, server, args.samples, not args.client)
        if profiler is not None:
            profiler.disable()
        elapsed = perf_counter() - started
    summary = summarize_ns(got)
    print(
        f"{len(got)} hand-offs in {elapsed:.2f}s; p50 {summary['p50_us']:.1f} µs, "
        f"p99 {summary['p99_us']:.1f} µs"
    )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
