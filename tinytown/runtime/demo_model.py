"""The built-in offline ``demo`` model: ``python -m tinytown.runtime.demo_model [PROMPT_FILE]``.

It plays the part of an AI coding CLI, deterministically and without a
network: it reads the round's prompt (from ``PROMPT_FILE`` or stdin), finds
each actionable item (:mod:`tinytown.runtime.prompt_parse`) and works it with
the same ``tt`` commands a real model would run:

* a task assignment: writes ``<town>/.tt/demo/<task-id>.md``; once every
  item is worked, all the round's tasks are completed with one command,
  ``tt task complete <id>... --results-json -`` (the results, one per task, on stdin);
* a query: answers the sender with ``tt send <sender> --info "..."``; the
  supervisor's backlog nudge is answered by claiming the first role-matching
  backlog task listed in the prompt (``tt backlog claim``);
* a plain task message: reports back with ``tt send <sender> --info "..."``;
* anything else (shutdown, status requests…): acknowledged in the log only.

Environment: ``TINYTOWN_TOWN`` (town root, default: the working directory),
``TINYTOWN_AGENT_NAME`` (default: the prompt's ``# Agent:`` title),
``TINYTOWN_AGENT_ID`` (passed on to ``tt`` so messages carry the agent's id),
``TINYTOWN_DEMO_DELAY_S`` (pause before each item so demos look alive;
default 0.3 s), ``TINYTOWN_DEMO_OPEN_PRS`` (when set, a mission work item is
reported with a pull request ``https://github.com/<owner>/<repo>/pull/<100+N>``
for its source issue ``owner/repo#N``, and a mission fix task with its
watch's target, so mission watches take over; for demos with a fake ``gh``).
Exit status 0 when every item was worked, 1 when a ``tt`` command failed,
2 on bad input; the reason goes to stderr.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tinytown.files import private_dir, write_private
from tinytown.models.ids import SUPERVISOR_UUID
from tinytown.runtime.prompt_parse import (
    ParsedBacklogTask,
    ParsedItem,
    parse_agent_name,
    parse_backlog,
    parse_items,
)

DEFAULT_DELAY_S = 0.3
DEMO_DIR = Path(".tt") / "demo"
TT_TIMEOUT_S = 60.0


class DemoError(Exception):
    """A step failed; the message is the one line shown on stderr.

    Args:
        message: the reason.
        code: the exit status (1: a ``tt`` command failed, 2: bad input).
    """

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def result_text(agent: str, item: ParsedItem) -> str:
    """The deterministic result a demo agent reports for a task."""
    if "review" in item.text.lower():
        return f"{agent} reviewed it: approved, no issues found (demo review)"
    return f"{agent} finished: {_short(item.text)} (notes in .tt/demo/{item.task_id}.md)"


def mission_pr(description: str) -> str | None:
    """The pull request a demo agent reports for a mission task, if it is one."""
    target = re.search(r"^Target: (\S+)$", description, re.MULTILINE)
    if description.startswith("[Mission Fix") and target:
        return f"updated {target.group(1)}"
    source = re.search(r"^Source: ([\w.-]+)/([\w.-]+)#(\d+)", description, re.MULTILINE)
    if description.startswith("[Mission Work Item]") and source:
        owner, repo, number = source.groups()
        return f"opened https://github.com/{owner}/{repo}/pull/{100 + int(number)}"
    return None


def answer_text(agent: str, item: ParsedItem) -> str:
    """The deterministic answer a demo agent sends to a query."""
    return f"{agent} answers '{_short(item.question)}': yes, all clear (demo answer)"


def recipient(sender: str) -> str:
    """How to address a sender with ``tt send``: the supervisor's id by name."""
    return "supervisor" if sender.strip().lower() == str(SUPERVISOR_UUID) else sender


class DemoModel:
    """Works the items of one prompt.

    Args:
        town: the town root.
        agent: the agent's name.
        delay_s: pause before each item.
        tt_command: the argv prefix that runs ``tt``.
    """

    def __init__(self, town: Path, agent: str, delay_s: float, tt_command: Sequence[str]) -> None:
        self.town = town
        self.agent = agent
        self.delay_s = delay_s
        self.tt_command = list(tt_command)
        self.completed: list[tuple[str, str]] = []  # (task id, result), completed at the end

    def tt(self, *args: str, text: str | None = None, check: bool = True) -> bool:
        """Run one ``tt`` command in the town; raise DemoError when it fails and ``check``.

        ``text`` (a message or result) goes through stdin as ``-``, not argv, so
        other users cannot read it in ``ps``; the round log shows it in place.
        """
        argv = [*self.tt_command, "--town", str(self.town), *args, *([] if text is None else ["-"])]
        print(f"$ tt {' '.join([*args, *([] if text is None else [text])])}", flush=True)
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=TT_TIMEOUT_S, check=False,
                input=text,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DemoError(f"could not run tt {args[0]}: {exc}") from None
        sys.stdout.write(done.stdout)
        sys.stdout.flush()
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
            if check:
                raise DemoError(f"tt {' '.join(args[:2])} failed ({done.returncode}): {reason}")
            print(f"  (ignored: {reason})", flush=True)
            return False
        return True

    def work(self, items: Sequence[ParsedItem], backlog: Sequence[ParsedBacklogTask]) -> None:
        """Work every item in order."""
        if not items:
            print(f"demo model: {self.agent} has nothing actionable", flush=True)
        for item in items:
            if self.delay_s > 0:
                time.sleep(self.delay_s)
            if item.task_id is not None:
                self.complete_task(item)
            elif item.is_backlog_nudge and backlog:
                self.claim(backlog[0])
            elif item.is_query:
                self.tt("send", recipient(item.sender), "--info",
                        text=answer_text(self.agent, item))
            elif _is_plain_task(item):
                note = f"{self.agent} did: {_short(item.text)} (demo)"
                self.tt("send", recipient(item.sender), "--info", text=note)
            else:
                print(f"demo model: noted '{_short(item.text)}'", flush=True)
        self.complete_tasks()

    def complete_tasks(self) -> None:
        """Complete the round's tasks in one ``tt task complete`` (one result per task)."""
        if not self.completed:
            return
        ids = [task_id for task_id, _ in self.completed]
        results = json.dumps([result for _, result in self.completed])
        self.completed = []
        # The results go through stdin, never argv: other users can read argv in 'ps'.
        self.tt("task", "complete", *ids, "--results-json", text=results)

    def complete_task(self, item: ParsedItem) -> None:
        assert item.task_id is not None
        result = result_text(self.agent, item)
        notes = self.town / DEMO_DIR / f"{item.task_id}.md"
        try:
            private_dir(notes.parent)
            write_private(
                notes,
                f"# Task {item.task_id}\n\n"
                f"- Agent: {self.agent}\n"
                f"- Description: {item.text}\n\n"
                f"{result}\n",
            )
        except OSError as exc:
            raise DemoError(f"cannot write {notes}: {exc.strerror or exc}") from None
        print(f"demo model: {self.agent} wrote {notes.relative_to(self.town)}", flush=True)
        if os.environ.get("TINYTOWN_DEMO_OPEN_PRS"):
            pr = mission_pr(self.task_description(item.task_id))
            if pr is not None:
                result = f"{result}; {pr}"
        self.completed.append((item.task_id, result))

    def task_description(self, task_id: str) -> str:
        """The full description of a task (the prompt shows it shortened)."""
        argv = [*self.tt_command, "--town", str(self.town), "task", "show", task_id, "--json"]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=TT_TIMEOUT_S,
                                  check=False)
            return str(json.loads(done.stdout).get("description") or "")
        except (OSError, subprocess.TimeoutExpired, ValueError, AttributeError):
            return ""

    def claim(self, task: ParsedBacklogTask) -> None:
        # Another agent may claim it first: that is not this round's failure.
        self.tt("backlog", "claim", task.task_id, self.agent, check=False)


def _is_plain_task(item: ParsedItem) -> bool:
    text = item.text
    return not (text.startswith("[") or text in ("shutdown requested", "status requested"))


def _delay_from_env() -> float:
    raw = os.environ.get("TINYTOWN_DEMO_DELAY_S", "").strip()
    if not raw:
        return DEFAULT_DELAY_S
    try:
        value = float(raw)
    except ValueError:
        raise DemoError(f"TINYTOWN_DEMO_DELAY_S must be a number, got {raw!r}", 2) from None
    if not value >= 0:  # also rejects NaN
        raise DemoError(f"TINYTOWN_DEMO_DELAY_S must be >= 0, got {raw!r}", 2)
    return value


def _read_prompt(argv: Sequence[str]) -> str:
    if len(argv) > 1:
        raise DemoError("usage: python -m tinytown.runtime.demo_model [PROMPT_FILE]", 2)
    if argv:
        try:
            return Path(argv[0]).read_text(encoding="utf-8")
        except OSError as exc:
            reason = exc.strerror or exc
            raise DemoError(f"cannot read prompt file {argv[0]}: {reason}", 2) from None
    return sys.stdin.read()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo model; returns the process exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        delay = _delay_from_env()
        prompt = _read_prompt(args)
        town = Path(os.environ.get("TINYTOWN_TOWN") or os.getcwd()).resolve()
        agent = os.environ.get("TINYTOWN_AGENT_NAME") or parse_agent_name(prompt)
        if not agent:
            raise DemoError("no agent name: set TINYTOWN_AGENT_NAME or pass a tinytown prompt", 2)
        model = DemoModel(town, agent, delay, [sys.executable, "-m", "tinytown.cli"])
        model.work(parse_items(prompt), parse_backlog(prompt))
    except DemoError as exc:
        sys.stderr.write(f"demo model: {exc}\n")
        return exc.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
