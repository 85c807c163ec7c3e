"""Reading agent logs for ``tt status --deep`` (agent-loop.md §7).

The cleaning rules are pure functions over lines; :func:`read_agent_log` does
the (synchronous, bounded) file reading and is meant to run in a thread.
Both plain lines and tracing-formatted lines (``<ts>  INFO tt: text``) of the
Rust loop are understood.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

import attrs

TAIL_LINES: Final = 50
SHOWN_LINES: Final = 15
ROUND_TAIL_LINES: Final = 8
ROUND_LINE_MAX: Final = 80
ROUND_LINE_KEEP: Final = 77
_TAIL_BYTES: Final = 256 * 1024

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ROUND_FILE = re.compile(r"^(?P<name>.+)_round_(?P<n>\d+)\.log$")
_KEEP_PREFIXES: Final = ("📍", "✅", "❌", "🔄", "📬", "🤖", "📊", "🛑", "📋")
_DROP_CONTAINING: Final = (
    "Inbox empty, waiting",
    "Running auggie",
    "📊 Rounds completed:",
    "📬 batched:",
    "prompting backlog review",
    "prompting claim review",
)
_LEVELS: Final = ((" INFO ", ""), (" WARN ", "⚠️ "), (" ERROR ", "❌ "))


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _after_level(line: str, marker: str) -> str:
    rest = line.split(marker, 1)[1]
    colon = rest.find(":")
    return rest[colon + 1 :] if colon >= 0 else rest


def clean_line(raw: str) -> str | None:
    """The text worth showing from one log line, or None to drop it."""
    line = strip_ansi(raw).rstrip("\n")
    text = line.strip()
    if not text or any(d in line for d in _DROP_CONTAINING):
        return None
    if "Redis version" in line and "detected" in line:
        return None
    if text.startswith("📍 Round ") and "complete" not in text:
        return None
    if text == "tt:" or text.endswith(" tt:"):
        return None
    out: str | None = None
    if text.startswith(_KEEP_PREFIXES):
        out = text
    else:
        for marker, prefix in _LEVELS:
            if marker in line:
                out = prefix + _after_level(line, marker).strip()
                break
    if out is None:
        out = line[27:] if len(line) > 27 and line[4] == "-" and line[10] == "T" else text
    out = out.strip()
    return out if out and out != "tt:" else None


def round_number(line: str) -> int | None:
    """The round of a "round complete" line (``✅ Round 3 complete``), else None."""
    if "Round " not in line or "complete" not in line:
        return None
    if "✅" not in line and "completed" not in line:
        return None
    digits = re.match(r"\d+", line.split("Round ", 1)[1])
    return int(digits.group()) if digits else None


def _collapsed(rounds: list[int]) -> str:
    if len(rounds) == 1:
        return f"✅ Round {rounds[0]} completed"
    return f"✅ Rounds {min(rounds)}-{max(rounds)} completed ({len(rounds)} rounds)"


def summarize_log(lines: Iterable[str], limit: int = SHOWN_LINES) -> list[str]:
    """Clean lines, collapse runs of completed rounds, drop repeats; keep the last ``limit``."""
    out: list[str] = []
    run: list[int] = []

    def push(text: str) -> None:
        if not out or out[-1] != text:
            out.append(text)

    for raw in lines:
        text = clean_line(raw)
        if text is None:
            continue
        n = round_number(text)
        if n is not None:
            run.append(n)
            continue
        if run:
            push(_collapsed(run))
            run = []
        push(text)
    if run:
        push(_collapsed(run))
    return out[-limit:] if limit > 0 else []


def round_tail(lines: Sequence[str], n: int = ROUND_TAIL_LINES) -> list[str]:
    """The last ``n`` non-empty lines of a round log, ANSI-stripped, long ones cut."""
    kept = [s for s in (strip_ansi(x).rstrip() for x in lines) if s.strip()]
    return [
        s if len(s) <= ROUND_LINE_MAX else s[:ROUND_LINE_KEEP] + "..." for s in kept[-n:]
    ]


# --- file reading (sync; run in a thread) ---------------------------------------------------


@attrs.frozen
class AgentLogExcerpt:
    """What ``--deep`` shows for one agent name."""

    name: str
    lines: list[str]
    latest_round: int | None
    round_lines: list[str]


def tail_lines(path: Path, n: int) -> list[str]:
    """The last ``n`` lines of a text file, reading at most the last 256 KiB."""
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(size - _TAIL_BYTES, 0))
        data = fh.read()
    lines = data.decode("utf-8", errors="replace").splitlines()
    if size > _TAIL_BYTES and lines:
        lines = lines[1:]  # probably cut in the middle
    return lines[-n:]


def latest_round_file(logs_dir: Path, stem: str) -> tuple[int, Path] | None:
    """The highest-numbered ``<stem>_round_<n>.log`` (stem: the agent id)."""
    best: tuple[int, Path] | None = None
    for path in logs_dir.glob(f"{glob.escape(stem)}_round_*.log"):
        m = _ROUND_FILE.match(path.name)
        if m and m.group("name") == stem:
            n = int(m.group("n"))
            if best is None or n > best[0]:
                best = (n, path)
    return best


def read_agent_log(logs_dir: Path, agent_id: str, name: str) -> AgentLogExcerpt | None:
    """The cleaned log of one agent, or None if it has no ``<agent id>.log``."""
    log_path = logs_dir / f"{agent_id}.log"
    if not log_path.is_file():
        return None
    lines = summarize_log(tail_lines(log_path, TAIL_LINES))
    latest = latest_round_file(logs_dir, agent_id)
    round_lines = round_tail(tail_lines(latest[1], 200)) if latest else []
    return AgentLogExcerpt(name, lines, latest[0] if latest else None, round_lines)


def read_agent_logs(
    logs_dir: Path, agents: Sequence[tuple[str, str]]
) -> list[AgentLogExcerpt]:
    """Logs of each ``(agent id, name)``, in order; agents without a log are skipped."""
    if not logs_dir.is_dir():
        return []
    out = []
    for agent_id, name in dict.fromkeys(agents):
        log = read_agent_log(logs_dir, agent_id, name)
        if log is not None:
            out.append(log)
    return out
