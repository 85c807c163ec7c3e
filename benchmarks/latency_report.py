"""Tables of the latency benchmark: every series, then the ratios that matter.

Targets (issue 12): the ``Channel`` hand-off on a unix socket, p50 within
1.5× of the *Trio floor* and p99 within 2.5×; our client alone within 1.1×
(p50). The Trio floor is defined as issue 12 and ARCHITECTURE.md do: two Trio
tasks on raw sockets *with a hiredis reader*; the same without any reply
parsing ("trio + raw sockets") is shown beside it, a stricter floor. The raw
selectors floor and the threads, asyncio and uvloop floors are context: what
other designs could reach.
"""

from __future__ import annotations

from typing import Any

from benchmarks._common import Cell, Table, ratio

TARGET_P50 = 1.5
TARGET_P99 = 2.5
TARGET_CLIENT_P50 = 1.1
FLOOR = "floor (raw sockets)"
TRIO_FLOOR = "trio + raw sockets + hiredis reader"
OTHER_FLOORS = (
    "trio + raw sockets", "threads + raw sockets", "asyncio + raw sockets", "uvloop + raw sockets"
)
OURS = "ours: Channel"
OURS_CLIENT = "ours: client only"
PEERS = (
    "redis-py sync (2 threads)",
    "redis-py sync (1 thread)",
    "redis-py via trio.to_thread",
    "coredis on trio",
)


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _find(
    series: list[dict[str, Any]], op: str, transport: str, client: str
) -> dict[str, Any] | None:
    for item in series:
        if (item["op"], item["transport"], item["client"]) == (op, transport, client):
            return item
    return None


def _p(item: dict[str, Any] | None, key: str) -> float | None:
    return None if item is None else float(item[key])


def series_table(series: list[dict[str, Any]]) -> Table:
    table = Table(
        "Latency (µs) per op, transport and client; ratios to the floor of the same op",
        [
            "op", "transport", "client", "n", "p50", "p90", "p99", "max", "p50/floor",
            "p99/floor", "best-round p50", "best-round p50/floor",
        ],
        note="best-round p50: the lowest p50 of the rounds (the quietest conditions each "
        "client met); compared with the floor's best round.",
    )  # fmt: skip
    for item in series:
        floor = _find(series, item["op"], item["transport"], FLOOR)
        table.rows.append([
            item["op"], item["transport"], item["client"], item["n"],
            _round(item["p50_us"], 1), _round(item["p90_us"], 1), _round(item["p99_us"], 1),
            _round(item["max_us"], 1),
            _round(ratio(item["p50_us"], _p(floor, "p50_us"))),
            _round(ratio(item["p99_us"], _p(floor, "p99_us"))),
            _round(item["best_round_p50_us"], 1),
            _round(ratio(item["best_round_p50_us"], _p(floor, "best_round_p50_us"))),
        ])  # fmt: skip
    return table


def ratio_table(series: list[dict[str, Any]]) -> Table:
    """Ours against the floor (with the targets), against each peer, and unix against TCP."""
    table = Table(
        "Ratios (p50 and p99; < 1 means ours is faster)",
        ["comparison", "op", "transport", "p50 ratio", "p99 ratio", "target", "met"],
        note=f"Targets: Channel hand-off on a unix socket, p50 ≤ {TARGET_P50}× and "
        f"p99 ≤ {TARGET_P99}× the Trio floor; client only p50 ≤ {TARGET_CLIENT_P50}×.",
    )
    rows: list[list[Cell]] = table.rows
    for transport in ("unix", "tcp"):
        for client in (OURS, OURS_CLIENT):
            ours = _find(series, "handoff", transport, client)
            for floor_name in (TRIO_FLOOR, *OTHER_FLOORS):
                base = _find(series, "handoff", transport, floor_name)
                if ours is None or base is None:
                    continue
                r50 = ratio(_p(ours, "p50_us"), _p(base, "p50_us"))
                r99 = ratio(_p(ours, "p99_us"), _p(base, "p99_us"))
                goal, verdict = "", ""
                if transport == "unix" and floor_name == TRIO_FLOOR:
                    if client == OURS:
                        goal = f"p50 ≤ {TARGET_P50}×, p99 ≤ {TARGET_P99}×"
                        ok = r50 is not None and r99 is not None and r50 <= TARGET_P50 \
                            and r99 <= TARGET_P99
                    else:
                        goal = f"p50 ≤ {TARGET_CLIENT_P50}×"
                        ok = r50 is not None and r50 <= TARGET_CLIENT_P50
                    verdict = "yes" if ok else "NO"
                rows.append([f"{client} vs {floor_name}", "handoff", transport, _round(r50),
                             _round(r99), goal, verdict])
    for transport in ("unix", "tcp"):
        for op in ("handoff", "reqresp"):
            for client in (OURS, OURS_CLIENT):
                ours = _find(series, op, transport, client)
                floor = _find(series, op, transport, FLOOR)
                r50 = ratio(_p(ours, "p50_us"), _p(floor, "p50_us"))
                r99 = ratio(_p(ours, "p99_us"), _p(floor, "p99_us"))
                target: str = ""
                met: str = ""
                rows.append(
                    [f"{client} vs floor", op, transport, _round(r50), _round(r99), target, met]
                )
        ours_ping = _find(series, "ping", transport, OURS_CLIENT)
        floor_ping = _find(series, "ping", transport, FLOOR)
        rows.append(
            [
                f"{OURS_CLIENT} vs floor",
                "ping",
                transport,
                _round(ratio(_p(ours_ping, "p50_us"), _p(floor_ping, "p50_us"))),
                _round(ratio(_p(ours_ping, "p99_us"), _p(floor_ping, "p99_us"))),
                "",
                "",
            ]
        )
    for transport in ("unix", "tcp"):
        for op in ("handoff", "reqresp", "ping"):
            ours = _find(series, op, transport, OURS if op != "ping" else OURS_CLIENT)
            for peer in PEERS:
                other = _find(series, op, transport, peer)
                if other is None:
                    continue
                rows.append(
                    [
                        f"ours vs {peer}",
                        op,
                        transport,
                        _round(ratio(_p(ours, "p50_us"), _p(other, "p50_us"))),
                        _round(ratio(_p(ours, "p99_us"), _p(other, "p99_us"))),
                        "",
                        "",
                    ]
                )
    for op in ("handoff", "reqresp", "ping"):
        for client in (OURS, OURS_CLIENT, FLOOR):
            unix, tcp = _find(series, op, "unix", client), _find(series, op, "tcp", client)
            if unix is None or tcp is None:
                continue
            rows.append(
                [
                    f"{client}: tcp vs unix",
                    op,
                    "tcp/unix",
                    _round(ratio(_p(tcp, "p50_us"), _p(unix, "p50_us"))),
                    _round(ratio(_p(tcp, "p99_us"), _p(unix, "p99_us"))),
                    "",
                    "",
                ]
            )
    return table


LADDER = (FLOOR, "trio + raw sockets", TRIO_FLOOR, OURS_CLIENT, OURS)


def ladder_table(series: list[dict[str, Any]]) -> Table:
    """Where the hand-off time goes: each layer's p50 minus the layer below."""
    table = Table(
        "Where the hand-off time goes (p50, µs): each layer over the one below",
        ["transport", "layer", "p50", "+ over previous", "share of Channel p50"],
        note="floor → Trio scheduling (two tasks, epoll) → our client (pool, packing, "
        "hiredis) → Channel (message JSON encode + decode, key building, two-key BLPOP).",
    )
    for transport in ("unix", "tcp"):
        top = _p(_find(series, "handoff", transport, OURS), "p50_us")
        previous: float | None = None
        for client in LADDER:
            p50 = _p(_find(series, "handoff", transport, client), "p50_us")
            if p50 is None:
                continue
            step = None if previous is None else p50 - previous
            share = ratio(step if step is not None else p50, top)
            table.rows.append([transport, client, _round(p50, 1), _round(step, 1), _round(share)])
            previous = p50
    return table


def build_tables(series: list[dict[str, Any]]) -> list[Table]:
    """The per-series table, the ratio table, then the hand-off ladder."""
    return [series_table(series), ratio_table(series), ladder_table(series)]
