"""Smoke test of the benchmark harness: ``python -m benchmarks --quick`` end to end.

Runs the real harness in a subprocess (it starts and stops its own
redis-servers) into a temporary results directory, then checks that the
JSON, the Markdown table and the plots were written with the expected
structure. No timing is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ("latency", "throughput", "scale", "runtime", "startup", "e2e", "townhall")
TIMEOUT_S = 600
Run = tuple[Path, subprocess.CompletedProcess[str]]
pytestmark = pytest.mark.slow  # one quick run of every benchmark, shared by the module


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("bench-results")
    env = os.environ.copy()
    env["HOME"] = str(tmp_path_factory.mktemp("bench-home"))
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    return out, done


def _doc(out: Path) -> dict[str, object]:
    doc: dict[str, object] = json.loads((out / "latest.json").read_text())
    return doc


def test_quick_run_exits_cleanly(quick_run: Run) -> None:
    _, done = quick_run
    assert done.returncode == 0, done.stderr[-3000:]


def test_json_has_meta_and_every_benchmark(
    quick_run: Run,
) -> None:
    out, _ = quick_run
    doc = _doc(out)
    meta = doc["meta"]
    assert isinstance(meta, dict)
    assert meta["command"] == f"python -m benchmarks --quick --out {out}"
    assert meta["quick"] is True
    for key in ("date", "machine", "python", "packages", "redis_server"):
        assert meta[key], key
    assert set(meta["packages"]) >= {"trio", "hiredis", "redis"}
    benchmarks = doc["benchmarks"]
    assert isinstance(benchmarks, dict)
    assert set(benchmarks) == set(BENCHMARKS)
    for name, result in benchmarks.items():
        assert result["status"] in ("ok", "partial", "skipped"), (name, result["reason"])
        if result["status"] == "skipped":
            assert result["reason"], name
        for part in result["skipped"]:
            assert part["what"], name
            assert part["reason"], name


def test_latency_series_and_ratios(quick_run: Run) -> None:
    out, _ = quick_run
    latency = _doc(out)["benchmarks"]["latency"]  # type: ignore[index]
    assert latency["status"] in ("ok", "partial")
    series = latency["data"]["series"]
    seen = {(s["op"], s["transport"], s["client"]) for s in series}
    for op in ("handoff", "reqresp", "ping"):
        for transport in ("unix", "tcp"):
            assert (op, transport, "floor (raw sockets)") in seen
    assert ("handoff", "unix", "ours: Channel") in seen
    assert ("handoff", "tcp", "ours: Channel") in seen
    for item in series:
        assert item["n"] == latency["params"]["samples"]
        assert item["p50_us"] <= item["p90_us"] <= item["p99_us"] <= item["max_us"]
    titles = [t["title"] for t in latency["tables"]]
    assert any(t.startswith("Ratios") for t in titles)
    # --sched fifo is the default: applied, or the reason it was refused is recorded.
    sched = latency["params"]["sched"]
    assert sched == "fifo" or sched.startswith("normal (SCHED_FIFO refused: "), sched
    assert _doc(out)["meta"]["sched"] == "fifo"  # type: ignore[index]


def test_markdown_table_written(quick_run: Run) -> None:
    out, _ = quick_run
    md = (out / "latest.md").read_text()
    assert md.startswith("# Tinytown benchmarks")
    for name in BENCHMARKS:
        assert f"## {name}" in md
    assert "| op | transport | client |" in md
    stamped = [p for p in out.glob("*.md") if p.name != "latest.md"]
    assert len(stamped) == 1
    assert stamped[0].read_text() == md
    assert (out / f"{stamped[0].stem}.json").read_text() == (out / "latest.json").read_text()


def test_plots_written(quick_run: Run) -> None:
    pytest.importorskip("matplotlib", reason="plots need the 'bench' extra (matplotlib)")
    out, _ = quick_run
    doc = _doc(out)
    plots = [p for b in doc["benchmarks"].values() for p in b["plots"]]  # type: ignore[attr-defined]
    names = {p.split("-", 1)[1] for p in plots}
    assert {"latency-handoff.png", "latency-reqresp.png", "latency-ping.png"} <= names
    for plot in plots:
        data = (out / plot).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), plot
        assert len(data) > 5_000, plot


def test_startup_times_agent_commands_against_the_rust_peer(quick_run: Run) -> None:
    from benchmarks._install import rust_tt

    out, _ = quick_run
    startup = _doc(out)["benchmarks"]["startup"]  # type: ignore[index]
    data = startup["data"]
    assert data["bytecode_missing"] == []
    for name in ("status", "assign", "send", "inbox", "task complete"):
        assert len(data["times_s"][f"tt {name}"]) == startup["params"]["runs"], name
        assert f"tt {name} (in-process)" in data["medians_s"], name
        if rust_tt() is not None:
            assert f"rust tt {name}" in data["medians_s"], name
    assert "noisy" in data


def test_e2e_counts_tasks_cpu_fds_and_connections(quick_run: Run) -> None:
    out, _ = quick_run
    e2e = _doc(out)["benchmarks"]["e2e"]  # type: ignore[index]
    assert e2e["status"] == "ok", e2e["skipped"]
    for r in e2e["data"]["runs"]:
        assert r["tasks"] > 0
        assert r["seconds"] > 0
        assert r["cpu_s"] > 0
        assert r["fds"] >= r["fds_idle"] > 0
        assert r["redis_clients"] >= r["redis_clients_idle"]


@pytest.mark.skipif(not hasattr(os, "sched_setscheduler"), reason="no sched_setscheduler here")
def test_realtime_block_restores_the_policy() -> None:
    from benchmarks._common import realtime

    before = os.sched_getscheduler(0)
    with realtime("fifo") as applied:
        inside = os.sched_getscheduler(0)
    assert os.sched_getscheduler(0) == before
    if applied == "fifo":
        assert inside == os.SCHED_FIFO
    else:  # refused (no CAP_SYS_NICE, no real-time budget): said so, nothing changed
        assert applied.startswith("normal (SCHED_FIFO refused: ")
        assert inside == before
    with realtime("normal") as applied:
        assert applied == "normal"
        assert os.sched_getscheduler(0) == before
