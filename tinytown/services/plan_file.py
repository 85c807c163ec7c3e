"""The ``tasks.toml`` plan file: attrs classes, a strict loader and a writer (pure).

Format (config.md §7.1)::

    [meta]
    description = "Sprint 1 tasks"
    default_agent = "developer"

    [[tasks]]
    id = "auth-api"
    description = "Build user authentication API"
    agent = "backend"
    status = "pending"
    tags = ["auth", "api"]
    parent = "auth-api"

Every problem is a :class:`~tinytown.errors.PlanError` whose one-line message
names the line: TOML syntax errors carry the parser's ``(at line L, column C)``;
wrong types, bad statuses, duplicate ids and dangling parents name the line
of the offending key (or of the entry's ``[[tasks]]`` header) and the entry's
position and id. Unknown keys are not errors: ``sync pull`` keeps them, and
the plan's ``notes`` name each one (the CLI shows them as warnings). Nothing
here touches the disk except :func:`read_plan` and the ``write_*`` functions.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any, Final

import attrs

from tinytown.errors import PlanError
from tinytown.files import write_atomic

PLAN_FILE: Final = "tasks.toml"
PLAN_STATUSES: Final = ("pending", "assigned", "running", "completed", "failed", "cancelled")
TASK_FIELDS: Final = ("id", "description", "agent", "status", "tags", "parent")
META_FIELDS: Final = ("description", "default_agent")
TOP_FIELDS: Final = ("meta", "tasks")

TEMPLATE: Final = """[meta]
description = "Task plan for this project"

[[tasks]]
id = "example-1"
description = "Example task - replace with your own"
status = "pending"
tags = ["example"]
"""


@attrs.frozen
class PlanMeta:
    description: str = ""
    default_agent: str | None = None


@attrs.frozen
class PlanEntry:
    """One ``[[tasks]]`` entry. ``agent``, ``parent`` and ``meta.default_agent`` are not pushed."""

    id: str
    description: str
    agent: str | None = None
    status: str = "pending"
    tags: tuple[str, ...] = ()
    parent: str | None = None


@attrs.frozen
class Plan:
    """A parsed plan; ``notes`` are warnings about keys it keeps but does not use."""

    meta: PlanMeta = PlanMeta()
    tasks: tuple[PlanEntry, ...] = ()
    notes: tuple[str, ...] = attrs.field(default=(), eq=False)

    def entry(self, plan_id: str) -> PlanEntry | None:
        return next((e for e in self.tasks if e.id == plan_id), None)


# --- reading ---------------------------------------------------------------------------


def read_plan(path: Path) -> Plan | None:
    """Load ``path``; None when it does not exist.

    Raises:
        PlanError: unreadable file or invalid content (the message names the line).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"Cannot read {path.name}: {exc}") from None
    return parse_plan(text, path.name)


def parse_plan(text: str, source: str = PLAN_FILE) -> Plan:
    """Parse and validate a plan document.

    Args:
        text: The TOML text.
        source: The file name used in error messages.

    Raises:
        PlanError: syntax error, unknown field, wrong type, bad status,
            missing description, duplicate id or unknown parent.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{source}: invalid TOML: {exc}") from None
    lines = _Lines(text, source)
    for key in data:
        if key not in TOP_FIELDS:
            lines.note(
                lines.top_key(key),
                f"unknown top-level field '{key}' (allowed: {', '.join(TOP_FIELDS)})",
            )
    meta = _parse_meta(data.get("meta", {}), lines)
    raw_tasks = data.get("tasks", [])
    if not isinstance(raw_tasks, list) or not all(isinstance(t, dict) for t in raw_tasks):
        raise lines.error(lines.top_key("tasks"), "'tasks' must be an array of tables ([[tasks]])")
    entries = [_parse_entry(i, raw, lines) for i, raw in enumerate(raw_tasks)]
    _check_ids(entries, lines)
    return Plan(meta, tuple(entries), tuple(lines.notes))


def _parse_meta(raw: object, lines: _Lines) -> PlanMeta:
    if not isinstance(raw, dict):
        raise lines.error(lines.top_key("meta"), "'meta' must be a table ([meta])")
    for key in raw:
        if key not in META_FIELDS:
            lines.note(
                lines.meta_key(key),
                f"unknown field '{key}' in [meta] (allowed: {', '.join(META_FIELDS)})",
            )
    description = raw.get("description", "")
    default_agent = raw.get("default_agent")
    for key, value in (("description", description), ("default_agent", default_agent)):
        if value is not None and not isinstance(value, str):
            raise lines.error(lines.meta_key(key), f"[meta] {key} must be a string")
    return PlanMeta(description, default_agent)


def _parse_entry(index: int, raw: dict[str, Any], lines: _Lines) -> PlanEntry:
    raw_id = raw.get("id")
    label = f"task {index + 1}" + (f" (id '{raw_id}')" if isinstance(raw_id, str) else "")

    def fail(key: str | None, problem: str) -> PlanError:
        line = lines.task_key(index, key) if key else lines.task_header(index)
        return lines.error(line, f"{problem} in {label}")

    for key in raw:
        if key not in TASK_FIELDS:
            unknown = f"unknown field '{key}' (allowed: {', '.join(TASK_FIELDS)}) in {label}"
            lines.note(lines.task_key(index, key), unknown)
    for key in ("id", "description", "agent", "status", "parent"):
        if key in raw and not isinstance(raw[key], str):
            raise fail(key, f"'{key}' must be a string")
    tags = raw.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise fail("tags", "'tags' must be an array of strings")
    if any(t.startswith("plan:") for t in tags):
        raise fail("tags", "tags starting with 'plan:' are reserved for sync")
    description = raw.get("description", "")
    if not description.strip():
        raise fail(
            "description" if "description" in raw else None, "missing or empty 'description'"
        )
    plan_id = raw.get("id", f"task-{index + 1}").strip()
    if not plan_id:
        raise fail("id", "empty 'id'")
    status = raw.get("status", "pending").strip().lower()
    if status not in PLAN_STATUSES:
        raise fail(
            "status", f"unknown status '{raw['status']}' (allowed: {', '.join(PLAN_STATUSES)})"
        )
    return PlanEntry(
        id=plan_id,
        description=description,
        agent=raw.get("agent") or None,
        status=status,
        tags=tuple(tags),
        parent=raw.get("parent") or None,
    )


def _check_ids(entries: list[PlanEntry], lines: _Lines) -> None:
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if entry.id in seen:
            raise lines.error(lines.task_key(i, "id"), f"duplicate id '{entry.id}' in task {i + 1}")
        seen.add(entry.id)
    for i, entry in enumerate(entries):
        if entry.parent is not None and (entry.parent not in seen or entry.parent == entry.id):
            raise lines.error(
                lines.task_key(i, "parent"),
                f"parent '{entry.parent}' of task {i + 1} (id '{entry.id}') "
                "is not another task of this plan",
            )


_HEADER = re.compile(r"^\s*\[")
_TASKS_HEADER = re.compile(r"^\s*\[\[\s*tasks\s*\]\]")
_META_HEADER = re.compile(r"^\s*\[\s*meta\s*\]")


class _Lines:
    """Finds the line of a key for error messages (best effort: 0 when unknown)."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.notes: list[str] = []
        self.lines = text.splitlines()
        self.task_headers = [i for i, ln in enumerate(self.lines) if _TASKS_HEADER.match(ln)]

    def error(self, line: int, problem: str) -> PlanError:
        where = f"{self.source} line {line}" if line else self.source
        return PlanError(f"{where}: {problem}")

    def note(self, line: int, problem: str) -> None:
        """A key that is kept (``sync pull`` preserves it) but not used."""
        self.notes.append(f"{self.error(line, problem)}: kept, not used")

    def _find_key(self, start: int, key: str) -> int:
        k = re.escape(key)
        pattern = re.compile(rf"""^\s*(?:{k}|"{k}"|'{k}')\s*=""")
        for i in range(start, len(self.lines)):
            if i > start and _HEADER.match(self.lines[i]):
                break
            if pattern.match(self.lines[i]):
                return i + 1
        return 0

    def top_key(self, key: str) -> int:
        found = self._find_key(0, key) if not self.lines or not _HEADER.match(self.lines[0]) else 0
        if found:
            return found
        table = re.compile(rf"^\s*\[+\s*{re.escape(key)}\s*\]")
        return next((i + 1 for i, ln in enumerate(self.lines) if table.match(ln)), 0)

    def meta_key(self, key: str) -> int:
        start = next((i for i, ln in enumerate(self.lines) if _META_HEADER.match(ln)), None)
        return self._find_key(start, key) if start is not None else 0

    def task_header(self, index: int) -> int:
        if len(self.task_headers) > index:
            return self.task_headers[index] + 1
        return 0

    def task_key(self, index: int, key: str | None) -> int:
        header = self.task_header(index)
        if not header or key is None:
            return header
        return self._find_key(header - 1, key) or header


# --- writing ---------------------------------------------------------------------------


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The TOML document of a plan: ``[meta]`` when it has content, then ``[[tasks]]``."""
    doc: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    if plan.meta.description:
        meta["description"] = plan.meta.description
    if plan.meta.default_agent:
        meta["default_agent"] = plan.meta.default_agent
    if meta:
        doc["meta"] = meta
    doc["tasks"] = [_entry_dict(e) for e in plan.tasks]
    return doc


def _entry_dict(entry: PlanEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"id": entry.id, "description": entry.description}
    if entry.agent:
        out["agent"] = entry.agent
    out["status"] = entry.status
    if entry.tags:
        out["tags"] = list(entry.tags)
    if entry.parent:
        out["parent"] = entry.parent
    return out


def toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are valid TOML; DEL must be escaped too."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def plan_to_toml(plan: Plan) -> str:
    """The plan as TOML in the book's layout (one-line arrays, a blank line between tables)."""
    doc = plan_to_dict(plan)
    blocks = []
    if "meta" in doc:
        blocks.append(["[meta]", *(f"{k} = {toml_string(v)}" for k, v in doc["meta"].items())])
    for entry in doc["tasks"]:
        lines = ["[[tasks]]"]
        for key, value in entry.items():
            if isinstance(value, list):
                rendered = "[" + ", ".join(toml_string(v) for v in value) + "]"
            else:
                rendered = toml_string(value)
            lines.append(f"{key} = {rendered}")
        blocks.append(lines)
    return "\n\n".join("\n".join(b) for b in blocks) + "\n"


def write_plan(path: Path, plan: Plan) -> None:
    """Write ``plan`` to ``path`` atomically, in the book's layout (a new file).

    Raises:
        PlanError: the file cannot be written; an existing file is left as it was.
    """
    write_plan_text(path, plan_to_toml(plan))


def write_plan_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically.

    Raises:
        PlanError: the file cannot be written; an existing file is left as it was.
    """
    try:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        write_atomic(path, text, mode)
    except OSError as exc:
        raise PlanError(f"Cannot write {path}: {exc.strerror or exc}") from None


def write_template(path: Path, *, force: bool = False) -> bool:
    """Write the starter plan; False (nothing written) if the file exists and not ``force``.

    Raises:
        PlanError: the file cannot be written (missing directory, permissions).
    """
    if path.exists() and not force:
        return False
    try:
        path.write_text(TEMPLATE, encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"Cannot write {path}: {exc.strerror or exc}") from None
    return True
