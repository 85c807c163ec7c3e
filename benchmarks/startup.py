"""Start-up: ``tt --help`` and ``tt status`` wall time against Python and a cyclopts app.

Each command runs as a fresh process, ``runs`` times, interleaved round-robin
(so background load hits them alike); medians are compared. Targets
(ARCHITECTURE.md): ``tt --help`` ≤ 1.25× a one-command cyclopts app's
``--help`` (``benchmarks/cyclopts_one.py``), ``tt status`` ≤ 2× of it.
``tt status`` runs in a small town (3 agents, 12 tasks) on the benchmark's
own redis-server. ``python -X importtime tt --help`` tells whether Trio or
Redis code was imported.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter
from typing import Any

import trio

from benchmarks import _town
from benchmarks._common import Outcome, Table, bench_servers, median, ratio

YARDSTICK = Path(__file__).resolve().parent / "cyclopts_one.py"
TARGETS = {"tt --help": 1.25, "tt status": 2.0}
HEAVY = ("trio", "hiredis", "tinytown.redis", "redis", "quart", "hypercorn", "httpx")


def _time(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, str]:
    started = perf_counter()
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    elapsed = perf_counter() - started
    last = (done.stderr.strip().splitlines() or [""])[-1]
    return elapsed, done.returncode, last


def heavy_imports(tt: str, cwd: Path, env: dict[str, str]) -> list[str]:
    """Top-level packages from :data:`HEAVY` that ``tt --help`` imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", tt, "--help"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        return [f"unknown (tt --help exited {done.returncode})"]
    found = set()
    for line in done.stderr.splitlines():
        if "|" not in line:
            continue
        module = line.rsplit("|", 1)[1].strip()
        for heavy in HEAVY:
            if module == heavy or module.startswith(heavy + "."):
                found.add(heavy)
    return sorted(found)


async def _small_town(root: Path, url: str) -> None:
    from tinytown.town import Town

    async with Town.connect(root, env={"REDIS_URL": url}) as town:
        await _town.seed(town, agents=3, tasks=12)


def run(quick: bool) -> Outcome:
    runs = 5 if quick else 20
    outcome = Outcome("startup", params={"runs": runs})
    try:
        tt = _town.tt_executable()
    except FileNotFoundError as exc:
        outcome.status, outcome.reason = "skipped", str(exc)
        return outcome
    with bench_servers("unix") as servers, tempfile.TemporaryDirectory(prefix="ttb-") as tmp:
        base = Path(tmp)
        home = base / "home"
        home.mkdir()
        server = servers["unix"]
        root = _town.make_town_dir(base, "startup-town")
        trio.run(_small_town, root, server.url)
        env = _town.tt_env(home, server.url)
        commands: dict[str, list[str]] = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "cyclopts one-command --help": [sys.executable, str(YARDSTICK), "--help"],
            "tt --help": [tt, "--help"],
            "tt status": [tt, "status"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for name, argv in list(commands.items()):  # one unrecorded run each: warm caches
            _, code, last = _time(argv, root, env)
            if code != 0:
                outcome.skip_part(name, f"exit {code}: {last}")
                del commands[name]
                del times[name]
        for _ in range(runs):
            for name, argv in commands.items():
                elapsed, _, _ = _time(argv, root, env)
                times[name].append(elapsed)
        outcome.data["imports_on_help"] = heavy_imports(tt, root, env)
    medians = {name: median(values) for name, values in times.items()}
    outcome.data["times_s"] = times
    outcome.data["medians_s"] = medians
    outcome.tables.append(_table(times, medians))
    heavy = outcome.data["imports_on_help"]
    outcome.notes.append(
        "tt --help imports " + (", ".join(heavy) if heavy else "none of " + ", ".join(HEAVY))
    )
    return outcome


def _table(times: dict[str, list[float]], medians: dict[str, float]) -> Table:
    base = medians.get("python -c pass")
    yard = medians.get("cyclopts one-command --help")
    table = Table(
        "Start-up wall time (ms), fresh process each run",
        [
            "command",
            "median",
            "min",
            "vs python -c pass",
            "vs cyclopts app --help",
            "target",
            "met",
        ],
    )
    for name, values in times.items():
        r_yard = ratio(medians[name], yard)
        target = TARGETS.get(name)
        met: Any = ""
        if target is not None and r_yard is not None:
            met = "yes" if r_yard <= target else "NO"
        table.rows.append([
            name, round(medians[name] * 1000, 1), round(min(values) * 1000, 1),
            _r(ratio(medians[name], base)), _r(r_yard),
            f"≤ {target}× cyclopts app" if target else "", met,
        ])  # fmt: skip
    return table


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
