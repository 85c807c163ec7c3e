"""Scale: ``tt status [--tasks]``, ``tt inbox --all`` and ``tt list`` as the town grows.

The service functions behind those commands run in-process against towns of
10/100/1,000 agents with 1k/10k/100k tasks (``--quick``: the first two
sizes), seeded with pipelines on the benchmark's own redis-server (flushed
between sizes), the repeats interleaved (each round runs every operation
once, so a change of load meets them alike). For each: the median wall time,
the number of network round trips (``town.redis.round_trips`` delta; the
target is a constant), and the growth from one size to the next next to the
growth of the data (the target is linear). At the largest size each command
also runs once as a ``tt`` subprocess (start-up and rendering included).
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from time import perf_counter
from typing import Any

import trio

from benchmarks import _town
from benchmarks._common import BenchServer, Outcome, Plot, Table, bench_servers, median, ratio

SIZES = [(10, 1_000), (100, 10_000), (1_000, 100_000)]
QUICK_SIZES = SIZES[:2]
# label -> (service module, function, keyword arguments, tt argv)
OPERATIONS: dict[str, tuple[str, str, dict[str, Any], list[str]]] = {
    "tt status --tasks": (
        "tinytown.services.status",
        "status",
        {"tasks": True},
        ["status", "--tasks"],
    ),
    "tt status": ("tinytown.services.status", "status", {}, ["status"]),
    "tt inbox --all": ("tinytown.services.inbox", "inbox_all", {}, ["inbox", "--all"]),
    "tt list": ("tinytown.services.agents", "list_agents", {}, ["list"]),
}
ServiceFn = Callable[..., Awaitable[Any]]
RAW_FIELDS = "raw fetch: what tt status reads"
RAW_WHOLE = "raw fetch: whole records"
BY_NAME = "resolve agent by name"
BY_ID = "resolve agent by id"
STATUS_TARGET = 1.5


async def raw_fetch(town: Any, *, summary: bool) -> None:
    """The Redis commands of ``tt status`` through our client, replies left undecoded.

    ``summary``: tasks by HMGET of the fields status reads (as it does); else
    every task hash whole (HGETALL), the issue's original yardstick.
    """
    from tinytown.services.status import STATUS_SAMPLE
    from tinytown.services.task_rows import SUMMARY_FIELDS

    redis, keys = town.redis, town.channel.keys
    agent_keys = await redis.execute("KEYS", keys.scan_pattern("agent"))
    pipe = redis.pipeline()
    for key in agent_keys:
        pipe.cmd("HGETALL", key)
    await pipe.execute()
    task_keys = await redis.execute("KEYS", keys.scan_pattern("task"))
    pipe = redis.pipeline()
    for key in task_keys:
        if summary:
            pipe.cmd("HMGET", key, *SUMMARY_FIELDS)
        else:
            pipe.cmd("HGETALL", key)
    await pipe.execute()
    pipe = redis.pipeline()
    for key in agent_keys:
        aid = key.rsplit(":", 1)[1]
        inbox = f"{keys.prefix}inbox:{aid}"
        pipe.cmd("LLEN", inbox).cmd("LLEN", f"{keys.prefix}urgent:{aid}")
        pipe.cmd("LRANGE", inbox, 0, STATUS_SAMPLE - 1)
    pipe.cmd("LLEN", keys.backlog)
    await pipe.execute()


async def _raw_fields(town: Any) -> None:
    await raw_fetch(town, summary=True)


async def _raw_whole(town: Any) -> None:
    await raw_fetch(town, summary=False)


def _resolver(by_name: bool) -> ServiceFn:
    middle: list[Any] = []

    async def resolve(town: Any) -> None:
        if not middle:
            agents = await town.channel.list_agents()
            middle.append(agents[len(agents) // 2])
        agent = middle[0]
        await town.resolve(agent.name if by_name else str(agent.id))

    return resolve


def resolve_services(outcome: Outcome) -> dict[str, tuple[ServiceFn, dict[str, Any]]]:
    """The service functions that exist; each missing one is recorded as skipped."""
    found: dict[str, tuple[ServiceFn, dict[str, Any]]] = {}
    for label, (module_name, attr, kwargs, _) in OPERATIONS.items():
        try:
            fn = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            outcome.skip_part(label, f"{module_name}.{attr} is not available ({exc})")
            continue
        found[label] = (fn, kwargs)
    found[RAW_FIELDS] = (_raw_fields, {})
    found[RAW_WHOLE] = (_raw_whole, {})
    return found


def _flushall(server: BenchServer) -> None:
    with server.connect() as sock:
        sock.sendall(b"*1\r\n$8\r\nFLUSHALL\r\n")
        sock.recv(64)


async def measure_size(
    root: Path,
    url: str,
    agents: int,
    tasks: int,
    repeats: int,
    services: dict[str, tuple[ServiceFn, dict[str, Any]]],
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Seed one town and time every service on it."""
    from tinytown.town import Town

    walls: dict[str, list[float]] = {label: [] for label in services}
    trips: dict[str, list[int]] = {label: [] for label in services}
    async with Town.connect(root, env={"REDIS_URL": url}) as town:
        seeded = await _town.seed(town, agents, tasks)
        for fn, kwargs in services.values():
            await fn(town, **kwargs)  # warm-up (and a crash here is reported, not timed)
        for _ in range(repeats):  # interleaved: a change of load meets every operation alike
            for label, (fn, kwargs) in services.items():
                before = town.redis.round_trips
                started = perf_counter()
                await fn(town, **kwargs)
                walls[label].append(perf_counter() - started)
                trips[label].append(town.redis.round_trips - before)
    results = {
        label: {"median_s": median(walls[label]), "min_s": min(walls[label]),
                "round_trips": max(trips[label]), "runs": repeats}
        for label in services
    }
    return seeded, results


def run(quick: bool) -> Outcome:
    sizes = QUICK_SIZES if quick else SIZES
    repeats = 3 if quick else 5
    outcome = Outcome("scale", params={"sizes": sizes, "repeats": repeats})
    services = resolve_services(outcome)
    if not services:
        outcome.status = "skipped"
        outcome.reason = "none of the status/inbox/list services exists yet"
        return outcome
    points: list[dict[str, Any]] = []
    cli: dict[str, Any] = {}
    with bench_servers("unix") as servers, tempfile.TemporaryDirectory(prefix="ttb-") as tmp:
        server = servers["unix"]
        home = Path(tmp) / "home"
        home.mkdir()
        for agents, tasks in sizes:
            _flushall(server)
            root = _town.make_town_dir(Path(tmp), f"scale-{agents}-{tasks}")
            live = {
                k: v
                for k, v in services.items()
                if not any(s["what"] == k for s in outcome.skipped)
            }
            live[BY_NAME] = (_resolver(by_name=True), {})
            live[BY_ID] = (_resolver(by_name=False), {})
            try:
                seeded, results = trio.run(
                    measure_size, root, server.url, agents, tasks, repeats, live
                )
            except Exception as exc:
                outcome.skip_part(f"size {agents}/{tasks}", f"{type(exc).__name__}: {exc}")
                continue
            for label, result in results.items():
                points.append(
                    {
                        "op": label,
                        "agents": agents,
                        "tasks": tasks,
                        **result,
                        "seed_s": seeded["seconds"],
                    }
                )
        if points:
            agents, tasks = sizes[-1]
            root = Path(tmp) / f"scale-{agents}-{tasks}"
            env = _town.tt_env(home, server.url)
            for label, (_, _, _, argv) in OPERATIONS.items():
                if label not in services:
                    continue
                elapsed, done = _town.run_tt(argv, root, env)
                if done.returncode != 0:
                    last = (done.stderr.strip().splitlines() or [""])[-1]
                    outcome.skip_part(f"{label} (subprocess)", f"exit {done.returncode}: {last}")
                    continue
                cli[label] = {
                    "agents": agents,
                    "tasks": tasks,
                    "seconds": elapsed,
                    "output_lines": len(done.stdout.splitlines()),
                }
    outcome.data["points"] = points
    outcome.data["cli_largest"] = cli
    outcome.tables += [_table(points, cli), _raw_table(points)]
    outcome.plots.append(_plot(points))
    outcome.notes.append(
        "growth = median time at this size / at the previous size; the data grew 10× "
        "(agents and tasks). Linear cost shows as ≈ 10×; constant round trips as the same "
        "count at every size."
    )
    return outcome


def _table(points: list[dict[str, Any]], cli: dict[str, Any]) -> Table:
    table = Table(
        "Service time by town size (in-process; median ms)",
        ["op", "agents", "tasks", "median ms", "round trips", "growth ×", "tt subprocess ms"],
    )
    previous: dict[str, dict[str, Any]] = {}
    for point in points:
        label = point["op"]
        before = previous.get(label)
        growth = ratio(point["median_s"], before["median_s"]) if before else None
        sub = cli.get(label)
        at_size = sub is not None and (sub["agents"], sub["tasks"]) == (
            point["agents"],
            point["tasks"],
        )
        table.rows.append([
            label, point["agents"], point["tasks"], round(point["median_s"] * 1000, 2),
            point["round_trips"], None if growth is None else round(growth, 2),
            round(sub["seconds"] * 1000, 1) if at_size and sub else None,
        ])  # fmt: skip
        previous[label] = point
    return table


def _raw_table(points: list[dict[str, Any]]) -> Table:
    table = Table(
        "tt status against a raw pipelined fetch of the same data (in-process medians)",
        ["op", "agents", "tasks", "ms", "raw: same fields ms", "vs raw same fields",
         "raw: whole records ms", "vs raw whole", "target", "met"],
        note="raw: the same Redis commands through our client, replies not decoded. "
        f"Target: ≤ {STATUS_TARGET}× the raw fetch of the fields status reads.",
    )
    at = {(p["op"], p["agents"]): p["median_s"] for p in points}
    for point in points:
        if not point["op"].startswith("tt status"):
            continue
        fields = at.get((RAW_FIELDS, point["agents"]))
        whole = at.get((RAW_WHOLE, point["agents"]))
        r = ratio(point["median_s"], fields)
        table.rows.append([
            point["op"], point["agents"], point["tasks"], round(point["median_s"] * 1000, 1),
            None if fields is None else round(fields * 1000, 1), _r(r),
            None if whole is None else round(whole * 1000, 1),
            _r(ratio(point["median_s"], whole)), f"≤ {STATUS_TARGET}×",
            "" if r is None else ("yes" if r <= STATUS_TARGET else "NO"),
        ])  # fmt: skip
    return table


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _plot(points: list[dict[str, Any]]) -> Plot:
    lines: dict[str, dict[str, list[float]]] = {}
    for point in points:
        line = lines.setdefault(point["op"], {"x": [], "y": []})
        line["x"].append(point["tasks"])
        line["y"].append(point["median_s"] * 1000)
    return Plot(
        kind="curves",
        name="scale",
        title="Service time vs town size",
        data={"panels": {"agents = tasks / 100": lines}},
        xlabel="tasks",
        ylabel="ms (median)",
        log_x=True,
        log_y=True,
    )
