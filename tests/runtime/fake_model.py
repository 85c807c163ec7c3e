"""A fake model CLI for runtime tests: ``python fake_model.py MODE [PROMPT_FILE]``.

It reads the round's prompt (stdin, or the file given), appends one line per
actionable item to ``$FAKE_SEEN`` (``<agent>\\t<U|N>\\t<task id or text>``),
records its pid under ``$FAKE_PIDS`` (so tests can clean up), and then, by MODE:

* ``ok``: completes every assigned task with ``tt task complete``;
* ``slow``: sleeps ``$FAKE_SLEEP_S`` (default 1) first, then as ``ok``;
* ``jitter``: sleeps a random time up to ``$FAKE_SLEEP_S`` (default 0.05), records only;
* ``fail``: exits with status 3;
* ``hang``: starts a child that sleeps too, then sleeps forever;
* ``flood``: writes 30 MB to stdout, then as ``ok``;
* ``work``: for each assigned task sleeps a random time up to ``$FAKE_SLEEP_S`` (default
  0.1) — the work — then appends ``<task id>\t<pid>`` to ``$FAKE_DONE`` and runs
  ``tt task complete`` (so each line is one piece of work done and handed in);
* ``setsid``: for each assigned task starts ``setsid sh -c 'sleep 30; tt task complete
  <id>'`` (a tool leaving the round's process group, as Claude Code's Bash tool does),
  records its pid as ``<pid>`` = ``setsid tool`` under ``$FAKE_PIDS``, then sleeps forever.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

from tinytown.runtime.prompt_parse import parse_items


def _record_pid() -> None:
    pids = os.environ.get("FAKE_PIDS")
    if pids:
        Path(pids).mkdir(parents=True, exist_ok=True)
        (Path(pids) / str(os.getpid())).write_text("fake_model\n")


def _append(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, line.encode())
    os.close(fd)


def main() -> int:
    mode = sys.argv[1]
    prompt = Path(sys.argv[2]).read_text() if len(sys.argv) > 2 else sys.stdin.read()
    _record_pid()
    items = parse_items(prompt)
    name = os.environ.get("TINYTOWN_AGENT_NAME", "?")
    lines = "".join(
        f"{name}\t{'U' if i.urgent else 'N'}\t{i.task_id or i.text}\n" for i in items
    )
    fd = os.open(os.environ["FAKE_SEEN"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, lines.encode())
    os.close(fd)
    sleep = float(os.environ.get("FAKE_SLEEP_S", "0"))
    if mode == "fail":
        print("fake model failing on purpose", file=sys.stderr)
        return 3
    if mode == "hang":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)"])
        Path(os.environ["FAKE_PIDS"], str(child.pid)).write_text("fake_model child\n")
        time.sleep(1000)
        return 0
    if mode == "work":
        for item in items:
            if item.task_id:
                time.sleep(random.uniform(0, sleep or 0.1))
                _append(os.environ["FAKE_DONE"], f"{item.task_id}\t{os.getpid()}\n")
                subprocess.run(["tt", "task", "complete", item.task_id, "--result",
                                f"done by {name}"], stdout=subprocess.DEVNULL, check=False)
        return 0
    if mode == "setsid":
        for item in items:
            if item.task_id:
                tool = subprocess.Popen(
                    ["setsid", "sh", "-c", f"sleep 30; tt task complete {item.task_id}"
                     " --result 'done by a stray tool'"])
                Path(os.environ["FAKE_PIDS"], str(tool.pid)).write_text("setsid tool\n")
        time.sleep(1000)
        return 0
    if mode == "jitter":
        time.sleep(random.uniform(0, sleep or 0.05))
        return 0
    if mode == "slow":
        time.sleep(sleep or 1.0)
    if mode == "flood":
        chunk = b"x" * 65535 + b"\n"
        for _ in range(480):
            sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
    for item in items:
        if item.task_id:
            subprocess.run(["tt", "task", "complete", item.task_id, "--result", f"done by {name}"],
                           check=True, stdout=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
