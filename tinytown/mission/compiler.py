"""Objectives → work items (missions.md §4): kinds, owner roles, dependencies, manifests, cycles.

Pure: issues arrive already fetched as :class:`IssueInfo`. A dependency cycle
raises before any work item exists, so nothing is written for a bad graph
(0.10 saved and activated the mission first).

Differences from 0.10, on purpose:
* ``#N`` in a body names issue N *of the same repository* (0.10 mapped numbers
  across repositories, so ``a/x#5`` and ``b/y#5`` collided); ``owner/repo#N``
  names another repository's issue of the same mission.
* ``source_ref`` is ``owner/repo#N`` (0.10 wrote the number twice).
* A manifest (``--manifest``) is read: ``[[work_items]]`` as in 0.10's parser,
  ``[[overrides]]`` as the book shows; ``priority`` orders the items.
"""

from __future__ import annotations

import graphlib
import re
import tomllib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from tinytown.errors import ConfigError, InvalidInputError
from tinytown.models.mission import (
    DocRef,
    IssueRef,
    MissionId,
    WorkItem,
    WorkItemId,
    WorkKind,
)

_ISSUE_TOKEN = r"(?:[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)?#\d+"
_DEPENDENCY = re.compile(
    r"(?:depends on|depend on|after|blocked by|requires|require)\s+"
    rf"({_ISSUE_TOKEN}(?:(?:\s*[,&]\s*|\s+and\s+){_ISSUE_TOKEN})*)",
    re.IGNORECASE,
)
_TOKEN = re.compile(rf"({_ISSUE_TOKEN})")

_KIND_RULES: tuple[tuple[tuple[str, ...], WorkKind], ...] = (
    (("design", "rfc", "proposal"), WorkKind.DESIGN),
    (("test", "spec"), WorkKind.TEST),
    (("review",), WorkKind.REVIEW),
    (("merge",), WorkKind.MERGEGATE),
    (("followup", "follow-up", "fix"), WorkKind.FOLLOWUP),
)


@attrs.frozen
class IssueInfo:
    """A fetched issue: its reference, title and body."""

    ref: IssueRef
    title: str
    body: str = ""


@attrs.frozen
class Override:
    """One manifest entry (missions.md §4.7)."""

    kind: WorkKind | None = None
    depends_on: tuple[IssueRef | int, ...] = ()
    owner_role: str | None = None
    skip: bool = False
    priority: int | None = None


@attrs.frozen
class Manifest:
    """Overrides by issue: a full reference, or a bare number matching any repository."""

    by_ref: dict[IssueRef, Override] = attrs.field(factory=dict)
    by_number: dict[int, Override] = attrs.field(factory=dict)

    def lookup(self, ref: IssueRef) -> Override | None:
        return self.by_ref.get(ref) or self.by_number.get(ref.number)


# --- inference -------------------------------------------------------------------------


def infer_kind(title: str, body: str) -> WorkKind:
    text = f"{title} {body}".lower()
    for words, kind in _KIND_RULES:
        if any(w in text for w in words):
            return kind
    return WorkKind.IMPLEMENT


def infer_role(title: str, body: str, kind: WorkKind) -> str | None:
    text = f"{title} {body}".lower()
    if any(w in text for w in ("backend", "api", "server")):
        return "backend"
    if any(w in text for w in ("frontend", "ui", "web")):
        return "frontend"
    if kind is WorkKind.TEST or "qa owner" in text:
        return "tester"
    if kind is WorkKind.REVIEW:
        return "reviewer"
    if any(w in text for w in ("devops", "infrastructure", "deploy")):
        return "devops"
    return None


def detect_dependencies(body: str, own: IssueRef) -> list[IssueRef]:
    """Issues named after a dependency keyword in ``body``; ``#N`` is in ``own``'s repository."""
    found: list[IssueRef] = []
    for match in _DEPENDENCY.finditer(body):
        for token in _TOKEN.findall(match.group(1)):
            ref = _token_ref(token, own)
            if ref not in found:
                found.append(ref)
    return found


def _token_ref(token: str, own: IssueRef) -> IssueRef:
    slug, _, number = token.partition("#")
    if slug:
        owner, _, repo = slug.partition("/")
        return IssueRef(owner, repo, int(number))
    return IssueRef(own.owner, own.repo, int(number))


# --- manifests ----------------------------------------------------------------------------


def parse_manifest(text: str, source: str = "manifest") -> Manifest:
    """A TOML manifest: ``[[work_items]]`` and/or ``[[overrides]]`` entries.

    Raises:
        InvalidInputError: not TOML, or an entry without a usable ``issue``.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"Invalid mission manifest {source}: {exc}") from None
    manifest = Manifest()
    for table in ("work_items", "overrides"):
        entries = data.get(table, [])
        if not isinstance(entries, list):
            raise InvalidInputError(f"Invalid mission manifest {source}: [[{table}]] is not a list")
        for entry in entries:
            key, override = _override(entry, source)
            if isinstance(key, IssueRef):
                manifest.by_ref[key] = override
            else:
                manifest.by_number[key] = override
    return manifest


def _override(entry: Any, source: str) -> tuple[IssueRef | int, Override]:
    if not isinstance(entry, dict) or "issue" not in entry:
        raise InvalidInputError(f"Invalid mission manifest {source}: an entry has no 'issue'")
    key = _manifest_issue(entry["issue"], source)
    deps = tuple(_manifest_issue(d, source) for d in entry.get("depends_on", []) or [])
    kind = entry.get("kind")
    role = entry.get("owner_role")
    priority = entry.get("priority")
    if priority is not None and not isinstance(priority, int):
        raise InvalidInputError(f"Invalid mission manifest {source}: priority must be an integer")
    return key, Override(
        kind=WorkKind.parse(kind) if isinstance(kind, str) else None,
        depends_on=deps,
        owner_role=str(role) if role is not None else None,
        skip=bool(entry.get("skip", False)),
        priority=priority,
    )


def _manifest_issue(value: Any, source: str) -> IssueRef | int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lstrip("#")
        if text.isdigit():
            return int(text)
        slug, sep, number = text.partition("#")
        owner, _, repo = slug.partition("/")
        if sep and owner and repo and number.isdigit():
            return IssueRef(owner, repo, int(number))
    raise InvalidInputError(f"Invalid mission manifest {source}: bad issue reference {value!r}")


# --- compiling ---------------------------------------------------------------------------------


def compile_work_items(
    mission_id: MissionId,
    issues: Sequence[IssueInfo],
    docs: Sequence[DocRef],
    now: datetime,
    manifest: Manifest | None = None,
) -> list[WorkItem]:
    """Work items for a mission's objectives: issues (in priority, then given order), then docs.

    Raises:
        ConfigError: the dependency graph has a cycle (nothing has been written).
    """
    kept: list[tuple[IssueInfo, Override | None]] = []
    for info in issues:
        override = manifest.lookup(info.ref) if manifest else None
        if override is None or not override.skip:
            kept.append((info, override))

    def rank(i: int) -> tuple[int, int]:
        override = kept[i][1]
        return (override.priority or 0 if override is not None else 0, i)

    order = sorted(range(len(kept)), key=rank)
    ids = {info.ref: WorkItemId.new() for info, _ in kept}
    items: list[WorkItem] = []
    for position, index in enumerate(order):
        info, override = kept[index]
        kind = infer_kind(info.title, info.body)
        role = infer_role(info.title, info.body, kind)
        deps = detect_dependencies(info.body, info.ref)
        if override is not None:
            kind = override.kind or kind
            role = override.owner_role if override.owner_role is not None else role
            if override.depends_on:
                deps = [_manifest_dep(d, info.ref) for d in override.depends_on]
        item = WorkItem(
            id=ids[info.ref],
            mission_id=mission_id,
            title=info.title,
            kind=kind,
            owner_role=role,
            depends_on=_resolve(deps, ids),
            source_ref=str(info.ref),
            created_at=now + timedelta(microseconds=position),
            updated_at=now,
        )
        items.append(item)
    for offset, doc in enumerate(docs, start=len(items)):
        items.append(
            WorkItem(
                id=WorkItemId.new(),
                mission_id=mission_id,
                title=doc.path,
                kind=WorkKind.DESIGN,
                source_ref=doc.path,
                created_at=now + timedelta(microseconds=offset),
                updated_at=now,
            )
        )
    check_acyclic(items)
    return items


def _manifest_dep(dep: IssueRef | int, own: IssueRef) -> IssueRef:
    return dep if isinstance(dep, IssueRef) else IssueRef(own.owner, own.repo, dep)


def _resolve(deps: list[IssueRef], ids: dict[IssueRef, WorkItemId]) -> list[WorkItemId]:
    """Dependencies on issues of this mission, as work item ids (others are ignored)."""
    out: list[WorkItemId] = []
    for ref in deps:
        wid = ids.get(ref)
        if wid is not None and wid not in out:
            out.append(wid)
    return out


def check_acyclic(items: Sequence[WorkItem]) -> None:
    """Raise ConfigError naming the titles on a dependency cycle, if there is one."""
    graph = {item.id: set(item.depends_on) for item in items}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        titles = {item.id: item.title for item in items}
        cycle = list(dict.fromkeys(exc.args[1]))
        names = ", ".join(titles.get(wid, str(wid)) for wid in cycle)
        raise ConfigError(f"Cycle detected in work graph involving: {names}") from None
