"""Command line of the harness: ``python -m benchmarks [NAME…] [--quick] [--out DIR]``."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from benchmarks._common import PIN, SCHED, Outcome, Skipped, cpu_snapshot, foreign_cpu_percent

# benchmark name -> module under benchmarks/
BENCHMARKS: dict[str, str] = {
    "latency": "latency",
    "throughput": "throughput",
    "scale": "scale",
    "runtime": "runtime_mem",
    "startup": "startup",
    "e2e": "e2e",
    "townhall": "townhall",
}
ALIASES = {"runtime_mem": "runtime"}
NOISY_PERCENT = 25  # other processes' CPU share above which a run is flagged as noisy
DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Tinytown benchmarks: latency, throughput, scale, runtime, startup, e2e, "
        "townhall.",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer samples and smaller sizes (a smoke run, ~1 minute)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="results directory (default: benchmarks/results)",
    )
    parser.add_argument("--no-plots", action="store_true", help="do not draw PNG plots")
    parser.add_argument(
        "--pin",
        choices=("none", "same", "split"),
        default="same",
        help="CPU placement of the latency benchmark: 'same' pins its redis-servers and "
        "the harness to one CPU (default: stable figures); 'split' to two different "
        "CPUs (every hand-off pays a cross-CPU wake-up); 'none' lets the OS choose",
    )
    parser.add_argument(
        "--sched",
        choices=("fifo", "normal"),
        default="fifo",
        help="scheduling of the latency harness: 'fifo' runs it SCHED_FIFO (lowest "
        "real-time priority; default: one mode per hand-off, see benchmarks/_common.SCHED) "
        "where the system allows it, else it falls back and says so; 'normal' never tries",
    )
    args = parser.parse_args(argv)
    names = [ALIASES.get(n, n) for n in args.names] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(
            f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    args.names = list(dict.fromkeys(names))
    return args


def run_one(name: str, quick: bool) -> Outcome:
    """Run one benchmark; a missing dependency is a skip, a crash an ``error`` outcome."""
    started = time.perf_counter()
    cpu_before = cpu_snapshot()
    try:
        module = importlib.import_module(f"benchmarks.{BENCHMARKS[name]}")
        runner: Callable[[bool], Outcome] = module.run
        outcome = runner(quick)
    except Skipped as exc:
        outcome = Outcome(name, status="skipped", reason=str(exc))
    except Exception as exc:
        outcome = Outcome(name, status="error", reason=f"{type(exc).__name__}: {exc}")
        outcome.notes.append(traceback.format_exc(limit=8))
    outcome.name = name
    outcome.seconds = time.perf_counter() - started
    foreign = foreign_cpu_percent(cpu_before, cpu_snapshot(), outcome.seconds)
    if foreign is not None:
        outcome.data["foreign_cpu_percent"] = round(foreign, 1)
        outcome.data["noisy"] = foreign > NOISY_PERCENT
        flag = f" **NOISY run: over {NOISY_PERCENT}%.**" if foreign > NOISY_PERCENT else ""
        outcome.notes.append(
            f"Other processes on the machine used {foreign:.0f}% of its CPUs during this "
            f"benchmark (figures are noisier the higher that is).{flag}"
        )
    return outcome


def main(argv: list[str] | None = None) -> int:
    from benchmarks import report

    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    started = datetime.now(UTC)
    outcomes: list[Outcome] = []
    PIN["mode"] = args.pin
    SCHED["mode"] = args.sched
    for name in args.names:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        outcome = run_one(name, args.quick)
        detail = f": {outcome.reason}" if outcome.reason else ""
        print(
            f"[bench] {name} {outcome.status}{detail} ({outcome.seconds:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
        for part in outcome.skipped:
            print(f"[bench]   skipped {part['what']}: {part['reason']}", file=sys.stderr)
        outcomes.append(outcome)
    if args.no_plots:
        for outcome in outcomes:
            outcome.plots.clear()
    meta = report.run_meta(argv, started)
    meta["quick"] = args.quick
    meta["pin"] = args.pin
    meta["sched"] = args.sched
    paths = report.write(outcomes, meta, args.out, report.stamp_of(started))
    print(paths["latest_md"].read_text())
    for key, path in paths.items():
        print(f"[bench] wrote {key}: {path}", file=sys.stderr)
    return 1 if any(o.status == "error" for o in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
