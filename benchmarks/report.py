"""Write a run's results: JSON, a Markdown table, and PNG plots (matplotlib, Agg).

Files of one run, in the results directory (``benchmarks/results/`` by default)::

    <stamp>.json   <stamp>.md   <stamp>-<plot>.png
    latest.json    latest.md      (overwritten by every run)

matplotlib is imported only when plots are drawn, with the Agg backend, so
the harness runs (without plots) where it is not installed.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks._common import Cell, Outcome, Plot, Table, redis_server_version

PACKAGES = ("trio", "hiredis", "redis", "coredis", "cyclopts", "matplotlib", "tinytown")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total() -> str | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).resolve().parent,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def run_meta(argv: list[str], started: datetime) -> dict[str, Any]:
    """Machine, versions, date and the exact command of this run."""
    try:
        redis_version = redis_server_version()
    except OSError as exc:
        redis_version = f"unavailable: {exc}"
    return {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join(["python -m benchmarks", *argv]),
        "machine": {
            "platform": platform.platform(),
            "cpu": _cpu_model(),
            "cpus": os.cpu_count(),
            "memory": _mem_total(),
        },
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "packages": {name: _version(name) for name in PACKAGES},
        "redis_server": redis_version,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def stamp_of(started: datetime) -> str:
    return started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


# --- Markdown ----------------------------------------------------------------------------


def _cell(value: Cell) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value).replace("|", "\\|")


def table_markdown(table: Table) -> str:
    """One Markdown (GFM) table with its title and note."""
    lines = [f"**{table.title}**", ""]
    lines.append("| " + " | ".join(table.columns) + " |")
    lines.append("|" + "|".join("---" for _ in table.columns) + "|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    if table.note:
        lines += ["", table.note]
    return "\n".join(lines)


def markdown(meta: dict[str, Any], outcomes: list[Outcome], plots: dict[str, list[str]]) -> str:
    machine = meta["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in meta["packages"].items() if v)
    lines = [
        f"# Tinytown benchmarks — {meta['date']}",
        "",
        f"- command: `{meta['command']}`",
        f"- machine: {machine['cpu']} × {machine['cpus']}, {machine['memory']}, "
        f"{machine['platform']}",
        f"- Python {meta['python']}; {versions}; {meta['redis_server']}",
        f"- git: {meta['git_commit']}{' (dirty tree)' if meta['git_dirty'] else ''}",
        f"- CPU placement of the latency benchmark (--pin): {meta.get('pin', 'none')}",
        f"- scheduling of the latency harness (--sched): {meta.get('sched', 'normal')}"
        " (what was applied: the latency section's notes)",
        "",
    ]
    for outcome in outcomes:
        lines += [f"## {outcome.name}", ""]
        status = outcome.status if not outcome.reason else f"{outcome.status}: {outcome.reason}"
        lines += [f"Status: {status} ({outcome.seconds:.1f} s)", ""]
        for table in outcome.tables:
            lines += [table_markdown(table), ""]
        for part in outcome.skipped:
            lines.append(f"- skipped {part['what']}: {part['reason']}")
        for note in outcome.notes:
            lines.append(f"- {note}")
        if outcome.skipped or outcome.notes:
            lines.append("")
        for filename in plots.get(outcome.name, []):
            lines += [f"![{filename}]({filename})", ""]
    return "\n".join(lines).rstrip() + "\n"


# --- plots -------------------------------------------------------------------------------


def draw(plot: Plot, path: Path) -> None:
    """Draw one plot to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels: dict[str, Any] = plot.data["panels"]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.6), squeeze=False)
    for ax, (panel, lines) in zip(axes[0], panels.items(), strict=True):
        for label, values in lines.items():
            if plot.kind == "distribution":
                ordered = sorted(values)
                ys = [(i + 1) / len(ordered) for i in range(len(ordered))]
                ax.plot(ordered, ys, label=label, linewidth=1.3)
            else:
                ax.plot(values["x"], values["y"], marker="o", label=label, linewidth=1.3)
        ax.set_title(panel)
        ax.set_xlabel(plot.xlabel)
        ax.set_ylabel(plot.ylabel)
        if plot.log_x:
            ax.set_xscale("log")
        if plot.log_y:
            ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(plot.title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_all(outcomes: list[Outcome], out_dir: Path, stamp: str) -> dict[str, list[str]]:
    """Draw every plot; failures become notes on their benchmark."""
    drawn: dict[str, list[str]] = {}
    for outcome in outcomes:
        for plot in outcome.plots:
            filename = f"{stamp}-{plot.name}.png"
            try:
                draw(plot, out_dir / filename)
            except Exception as exc:  # plotting must never lose the numbers
                outcome.notes.append(f"plot {plot.name} not drawn: {type(exc).__name__}: {exc}")
                continue
            drawn.setdefault(outcome.name, []).append(filename)
    return drawn


# --- the run ------------------------------------------------------------------------------


def outcome_json(outcome: Outcome, plots: list[str]) -> dict[str, Any]:
    return {
        "status": outcome.status,
        "reason": outcome.reason,
        "seconds": round(outcome.seconds, 3),
        "params": outcome.params,
        "data": outcome.data,
        "tables": [
            {"title": t.title, "columns": t.columns, "rows": t.rows, "note": t.note}
            for t in outcome.tables
        ],
        "notes": outcome.notes,
        "skipped": outcome.skipped,
        "plots": plots,
    }


def write(
    outcomes: list[Outcome], meta: dict[str, Any], out_dir: Path, stamp: str
) -> dict[str, Path]:
    """Write JSON, Markdown and plots; return the paths written (``json``, ``md``, ...)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = draw_all(outcomes, out_dir, stamp)
    doc = {
        "meta": meta,
        "benchmarks": {o.name: outcome_json(o, plots.get(o.name, [])) for o in outcomes},
    }
    text = json.dumps(_clean(doc), indent=1, allow_nan=False, default=str) + "\n"
    md = markdown(meta, outcomes, plots)
    paths = {
        "json": out_dir / f"{stamp}.json",
        "md": out_dir / f"{stamp}.md",
        "latest_json": out_dir / "latest.json",
        "latest_md": out_dir / "latest.md",
    }
    for key in ("json", "latest_json"):
        paths[key].write_text(text)
    for key in ("md", "latest_md"):
        paths[key].write_text(md)
    for names in plots.values():
        for name in names:
            paths[name] = out_dir / name
    return paths


def _clean(value: Any) -> Any:
    """NaN and infinities become null: the JSON stays strict."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
