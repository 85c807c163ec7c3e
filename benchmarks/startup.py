"""Start-up and agent-facing commands: ``tt`` against the Rust tinytown 0.10 binary.

Every command runs as a fresh process, ``runs`` times, interleaved round-robin
(so background load hits all alike); medians are compared. ``tt`` is the
checkout *as installed* (:mod:`benchmarks._install`: no editable-install
hook, bytecode compiled). The town is a real ``tt init`` town (its own Redis
on ``.tt/redis.sock``) with 3 agents and 12 tasks, which the Rust binary
reads too; its runtime is running (hosting no agent), so ``tt`` hands the
agent-facing commands to the town's command server — rows marked
"in-process" turn that off (``TINYTOWN_CMDSERVER=0``). Each row's first,
unrecorded run warms caches; for the command server that is also where its
waiting workers learn the modules and memory pages each command needs.

Targets (issue 12): each agent-facing command ≤ 3× the Rust binary's median;
``tt --help`` ≤ 1× a one-command cyclopts app running its command.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter
from typing import Any

import trio

from benchmarks import _install, _town
from benchmarks._common import Outcome, Table, median, ratio

YARDSTICK = Path(__file__).resolve().parent / "cyclopts_one.py"
HEAVY = ("trio", "hiredis", "tinytown.redis", "redis", "quart", "hypercorn", "httpx")
AGENT = "worker-0000"
NO_AGENT = "00000000-0000-4000-8000-000000000000"  # the runtime hosts this (absent) agent only
RUST_TARGET = 3.0
HELP_TARGET = 1.0
Argv = Callable[[int], list[str]]


def _time(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, str]:
    started = perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    elapsed = perf_counter() - started
    last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or [""])[-1]
    return elapsed, done.returncode, last


def heavy_imports(python: str, tt: str, cwd: Path, env: dict[str, str]) -> list[str]:
    """Top-level packages from :data:`HEAVY` that ``tt --help`` imports."""
    done = subprocess.run([python, "-X", "importtime", tt, "--help"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        return [f"unknown (tt --help exited {done.returncode})"]
    found: set[str] = set()
    for line in done.stderr.splitlines():
        module = line.rsplit("|", 1)[1].strip() if "|" in line else ""
        found.update(h for h in HEAVY if module == h or module.startswith(h + "."))
    return sorted(found)


async def _seed(root: Path, env: dict[str, str], completions: int) -> list[str]:
    """3 agents, 12 tasks, and ``completions`` tasks assigned to AGENT to complete."""
    from tinytown.models import Task
    from tinytown.town import Town, utcnow

    async with Town.connect(root, env=env) as town:
        await _town.seed(town, agents=3, tasks=12)
        agent = await town.channel.require_agent((await town.resolve(AGENT))[0])
        now = utcnow()
        tasks = [Task.new(f"Bench completion {i}", now).assigned(agent.id, now)
                 for i in range(completions)]
        await town.channel.set_tasks(tasks)
    return [str(t.id) for t in tasks]


@contextmanager
def _runtime(python: str, root: Path, env: dict[str, str]) -> Iterator[bool]:
    """The town's runtime (hosting no agent) and so its command server; True once it serves."""
    argv = [python, "-m", "tinytown.runtime", "--town", str(root), "--agent", NO_AGENT, "--stay"]
    log = (root / ".tt" / "logs" / "bench-runtime.log").open("wb")
    proc = subprocess.Popen(argv, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=log)
    try:
        deadline = time.monotonic() + 60
        while not (root / ".tt" / "cmd.sock").exists() and proc.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        time.sleep(0.5)  # the server warms up before it binds; let its first children settle
        yield (root / ".tt" / "cmd.sock").exists()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _agent_rows(tt: str, rust: str | None, ids: list[str], runs: int) -> dict[str, Argv]:
    pools = {who: iter(ids[k :: 3]) for k, who in enumerate(("server", "local", "rust"))}
    commands: dict[str, Callable[[str], list[str]]] = {
        "status": lambda _w: ["status"],
        "assign": lambda _w: ["assign", AGENT, "Benchmark work: implement part 7"],
        "send": lambda _w: ["send", AGENT, "Benchmark note: CI is green", "--info"],
        "inbox": lambda _w: ["inbox", AGENT],
        "task complete": lambda w: ["task", "complete", next(pools[w]), "--result", "done"],
    }
    rows: dict[str, Argv] = {}
    def row(program: str, args: Callable[[str], list[str]], pool: str) -> Argv:
        return lambda _i: [program, *args(pool)]

    for name, args in commands.items():
        rows[f"tt {name}"] = row(tt, args, "server")
        rows[f"tt {name} (in-process)"] = row(tt, args, "local")
        if rust is not None:
            rows[f"rust tt {name}"] = row(rust, args, "rust")
    return rows


def run(quick: bool) -> Outcome:
    runs = 5 if quick else 20
    outcome = Outcome("startup", params={"runs": runs})
    outcome.data["bytecode_compiled"] = _install.compile_bytecode()
    outcome.data["bytecode_missing"] = _install.bytecode_missing()
    rust = _install.rust_tt()
    if rust is None:
        outcome.skip_part("rust tt", "the tinytown 0.10 binary was not found")
    with tempfile.TemporaryDirectory(prefix="ttb-") as tmp:
        base = Path(tmp)
        home = base / "home"
        home.mkdir()
        python, tt = _install.installed_tt(base)
        env = _town.tt_env(home, "")
        for var in ("REDIS_URL", "TINYTOWN_TOWN", "TINYTOWN_CMDSERVER"):
            env.pop(var, None)
        root = base / "town"
        root.mkdir()
        if rust is not None:
            _install.link_redis_for_rust(home)
        _, code, last = _time([tt, "init", "--name", "startup-town"], root, env)
        if code != 0:
            outcome.status, outcome.reason = "error", f"tt init exited {code}: {last}"
            return outcome
        try:
            ids = trio.run(_seed, root, env, 3 * (runs + 2))
            with _runtime(python, root, env) as serving:
                if not serving:
                    outcome.skip_part("command server", "the runtime's server did not start")
                times = _measure(outcome, python, tt, rust, ids, runs, root, env)
            outcome.data["imports_on_help"] = heavy_imports(python, tt, root, env)
        finally:
            _time([tt, "stop", "--redis"], root, {**env, "TINYTOWN_CMDSERVER": "0"})
    medians = {name: median(values) for name, values in times.items()}
    outcome.data["times_s"] = times
    outcome.data["medians_s"] = medians
    outcome.tables += [_table(times, medians), _rust_table(medians)]
    heavy = outcome.data["imports_on_help"]
    outcome.notes.append(
        "tt --help imports " + (", ".join(heavy) if heavy else "none of " + ", ".join(HEAVY))
    )
    missing = outcome.data["bytecode_missing"]
    outcome.notes.append(
        "bytecode compiled for every module of the package" if not missing
        else f"bytecode missing for {len(missing)} modules: {', '.join(missing[:5])}"
    )
    outcome.notes.append(
        "tt: the checkout as a wheel installs it (no editable-install import hook, bytecode "
        "compiled); 'python -c pass (dev venv)' shows what the editable hook adds to every start."
    )
    return outcome


def _measure(outcome: Outcome, python: str, tt: str, rust: str | None, ids: list[str],
             runs: int, root: Path, env: dict[str, str]) -> dict[str, list[float]]:
    import sys

    rows: dict[str, Argv] = {
        "python -c pass": lambda _i: [python, "-c", "pass"],
        "python -c pass (dev venv)": lambda _i: [sys.executable, "-c", "pass"],
        "python -I -S -c pass": lambda _i: [python, "-I", "-S", "-c", "pass"],
        "cyclopts one-command app running its command": lambda _i: [python, str(YARDSTICK),
                                                                     "hello"],
        "tt --help": lambda _i: [tt, "--help"],
        **_agent_rows(tt, rust, ids, runs),
    }
    local_env = {**env, "TINYTOWN_CMDSERVER": "0"}

    def env_of(name: str) -> dict[str, str]:
        return local_env if name.endswith("(in-process)") else env

    times: dict[str, list[float]] = {name: [] for name in rows}
    for name, argv in list(rows.items()):  # one unrecorded run each: warm caches
        _, code, last = _time(argv(0), root, env_of(name))
        if code != 0:
            outcome.skip_part(name, f"exit {code}: {last}")
            del rows[name]
            del times[name]
    for i in range(runs):
        for name, argv in rows.items():
            elapsed, _, _ = _time(argv(i), root, env_of(name))
            times[name].append(elapsed)
    return times


def _table(times: dict[str, list[float]], medians: dict[str, float]) -> Table:
    base = medians.get("python -c pass")
    yard = medians.get("cyclopts one-command app running its command")
    table = Table("Start-up wall time (ms), fresh process each run",
                  ["command", "median", "min", "vs python -c pass", "vs cyclopts app"])
    for name, values in times.items():
        table.rows.append([
            name, round(medians[name] * 1000, 1), round(min(values) * 1000, 1),
            _r(ratio(medians[name], base)), _r(ratio(medians[name], yard)),
        ])  # fmt: skip
    r_help = ratio(medians.get("tt --help"), yard)
    if r_help is not None:
        met = "yes" if r_help <= HELP_TARGET else "NO"
        table.note = f"tt --help / cyclopts app running its command: {r_help:.2f} (target ≤ " \
                     f"{HELP_TARGET}×: {met})"
    return table


def _rust_table(medians: dict[str, float]) -> Table:
    table = Table("Agent-facing commands against tinytown 0.10 (Rust), median wall ms",
                  ["command", "rust", "tt", "tt / rust", "tt in-process", "in-process / rust",
                   "target", "met"])
    for name in ("status", "assign", "send", "inbox", "task complete"):
        rust = medians.get(f"rust tt {name}")
        ours = medians.get(f"tt {name}")
        local = medians.get(f"tt {name} (in-process)")
        r = ratio(ours, rust)
        met: Any = "" if r is None else ("yes" if r <= RUST_TARGET else "NO")
        table.rows.append([name, _ms(rust), _ms(ours), _r(r), _ms(local), _r(ratio(local, rust)),
                           f"≤ {RUST_TARGET}×", met])
    return table


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
