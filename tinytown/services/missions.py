"""Mission mode's business API: start, read, steer and end missions (missions.md §9, §10).

The CLI (``tt mission``), the REST routes and the MCP tools call these and
only these. ``via`` names the surface in the mission log (``CLI``, ``API``,
``MCP``). Times default to now; tests pass ``now``.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import attrs

from tinytown.errors import InvalidInputError, InvalidStateError, MissionNotFoundError
from tinytown.mission.compiler import IssueInfo, Manifest, compile_work_items, parse_manifest
from tinytown.mission.dispatcher import Dispatcher, DispatchResult, retire_help_requests
from tinytown.mission.github import GhCli, GitHubClient, origin_repo
from tinytown.mission.refs import parse_issue_ref
from tinytown.mission.store import MissionStore
from tinytown.mission.submission import Gates, Outcome
from tinytown.mission.tick import TickSummary, tick_missions
from tinytown.models.mission import (
    ControlMessage,
    DocRef,
    IssueRef,
    MissionId,
    MissionPolicy,
    MissionRun,
    MissionState,
    ObjectiveRef,
    WatchItem,
    WatchStatus,
    WorkItem,
    WorkItemId,
    WorkStatus,
)
from tinytown.town import Town, utcnow

S = TypeVar("S", bound=enum.Enum)


@attrs.frozen
class Started:
    mission: MissionRun
    items: list[WorkItem]
    invalid_issues: list[str]
    bootstrap: TickSummary


@attrs.frozen
class MissionStatus:
    mission: MissionRun
    items: list[WorkItem]
    watches: list[WatchItem]
    controls: list[ControlMessage]
    events: list[str]


@attrs.frozen
class Resumed:
    mission: MissionRun
    resumed: bool
    retired: int = 0


def parse_mission_id(text: str) -> MissionId:
    try:
        return MissionId.parse(text)
    except InvalidInputError:
        raise InvalidInputError(f"Invalid mission ID: {text}") from None


def github_for(town: Town) -> GitHubClient:
    return GhCli(town.root)


async def require(town: Town, mission_id: str | MissionId) -> MissionRun:
    mid = mission_id if isinstance(mission_id, MissionId) else parse_mission_id(mission_id)
    mission = await MissionStore(town.channel).get_mission(mid)
    if mission is None:
        raise MissionNotFoundError(str(mid))
    return mission


# --- start ------------------------------------------------------------------------------


async def start(
    town: Town,
    issues: Sequence[str] = (),
    docs: Sequence[str] = (),
    *,
    max_parallel: int = 2,
    reviewer_required: bool = True,
    manifest: str | Path | None = None,
    github: GitHubClient | None = None,
    via: str = "CLI",
    now: datetime | None = None,
) -> Started:
    """Create a running mission from issues and documents, then run one scheduler pass.

    Nothing is written unless every objective could be read and the work graph is acyclic.

    Raises:
        InvalidInputError: no objectives, none valid, a bad ``max_parallel`` or manifest.
        GitHubError: ``gh`` is missing, unauthenticated or failed for an issue.
        ConfigError: the dependency graph has a cycle.
    """
    if not issues and not docs:
        raise InvalidInputError("At least one --issue or --doc is required")
    if max_parallel < 1:
        raise InvalidInputError("--max-parallel must be at least 1")
    origin = await origin_repo(town.root) if any(i.strip().isdigit() for i in issues) else None
    refs: list[IssueRef] = []
    invalid: list[str] = []
    for text in issues:
        ref = parse_issue_ref(text, origin)
        if ref is None:
            invalid.append(text)
        elif ref not in refs:
            refs.append(ref)
    doc_refs = [DocRef(p) for p in dict.fromkeys(p.strip() for p in docs if p.strip())]
    if not refs and not doc_refs:
        raise InvalidInputError("No valid objectives found")
    parsed = _read_manifest(town, manifest)
    client = github or github_for(town)
    infos = [IssueInfo(ref, *(await client.issue(ref))) for ref in refs]
    when = now or utcnow()
    objectives: list[ObjectiveRef] = [*refs, *doc_refs]
    policy = MissionPolicy(max_parallel_items=max_parallel, reviewer_required=reviewer_required)
    mission = MissionRun.new(objectives, when, policy).started(when)
    items = compile_work_items(mission.id, infos, doc_refs, when, parsed)
    store = MissionStore(town.channel)
    await store.save_mission(mission)
    await store.save_work_items(items)
    await store.activate(mission.id)
    await store.log(mission.id, f"Mission started via {via}", when)
    await store.log(mission.id, f"Bootstrapped {len(items)} work item(s) from mission "
                                "objectives", when)
    summary = await tick_missions(town, [mission.id], when)
    return Started(await require(town, mission.id), await store.list_work_items(mission.id),
                   invalid, summary)


def _read_manifest(town: Town, manifest: str | Path | None) -> Manifest | None:
    if manifest is None:
        return None
    path = Path(manifest)
    if not path.is_absolute():
        path = Path.cwd() / path
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidInputError(f"Cannot read mission manifest {manifest}: "
                                f"{exc.strerror or exc}") from None
    return parse_manifest(text, str(manifest))


# --- reading ------------------------------------------------------------------------------


def parse_status(kind: type[S], raw: str | None, what: str) -> S | None:
    """A ``status`` filter as the user typed it (any case, spaces around); None when absent.

    Raises:
        InvalidInputError: ``raw`` names no value of ``kind``.
    """
    if raw is None:
        return None
    try:
        return kind(raw.strip().lower())
    except ValueError:
        raise InvalidInputError(f"Invalid {what} status: {raw}") from None


async def list_missions(town: Town, *, include_all: bool = False,
                        state: str | None = None) -> list[MissionRun]:
    """Active missions (oldest first), or every mission with ``include_all``/``state``.

    Raises:
        InvalidInputError: ``state`` is not a mission state.
    """
    wanted = parse_status(MissionState, state, "mission")
    store = MissionStore(town.channel)
    if include_all or wanted is not None:
        found = await store.list_missions()
        return [m for m in found if wanted is None or m.state is wanted]
    out = []
    for mid in await store.active_ids():
        mission = await store.get_mission(mid)
        if mission is not None:
            out.append(mission)
    return sorted(out, key=lambda m: (m.created_at, m.id.text))


async def status(town: Town, mission_id: str | MissionId, *, events: int = 5) -> MissionStatus:
    mission = await require(town, mission_id)
    store = MissionStore(town.channel)
    return MissionStatus(
        mission=mission,
        items=await store.list_work_items(mission.id),
        watches=await store.list_watches(mission.id),
        controls=await store.list_controls(mission.id),
        events=await store.recent_log(mission.id, events),
    )


async def work_items(town: Town, mission_id: str, status_filter: str | None = None
                     ) -> list[WorkItem]:
    mission = await require(town, mission_id)
    wanted = parse_status(WorkStatus, status_filter, "work item")
    items = await MissionStore(town.channel).list_work_items(mission.id)
    return [i for i in items if wanted is None or i.status is wanted]


async def watches(town: Town, mission_id: str, status_filter: str | None = None
                  ) -> list[WatchItem]:
    mission = await require(town, mission_id)
    wanted = parse_status(WatchStatus, status_filter, "watch")
    found = await MissionStore(town.channel).list_watches(mission.id)
    return [w for w in found if wanted is None or w.status is wanted]


async def events(town: Town, mission_id: str, count: int = 20) -> list[str]:
    if count <= 0:
        raise InvalidInputError("Event count must be greater than zero")
    mission = await require(town, mission_id)
    return await MissionStore(town.channel).recent_log(mission.id, count)


# --- steering ------------------------------------------------------------------------------


async def resume(town: Town, mission_id: str, *, via: str = "CLI",
                 now: datetime | None = None) -> Resumed:
    """Blocked (or planning) → running and active again; other states are left (resumed False)."""
    mission = await require(town, mission_id)
    if mission.state not in (MissionState.BLOCKED, MissionState.PLANNING):
        return Resumed(mission, resumed=False)
    when = now or utcnow()
    store = MissionStore(town.channel)
    mission = mission.started(when).help_cleared(when)
    await store.save_mission(mission)
    await store.activate(mission.id)
    retired = await retire_help_requests(town, mission.id)
    await store.log(mission.id, f"Mission resumed via {via} (retired {retired} stale help "
                                "request(s))", when)
    return Resumed(mission, resumed=True, retired=retired)


async def stop(town: Town, mission_id: str, *, force: bool = False, via: str = "CLI",
               now: datetime | None = None) -> MissionRun:
    """Blocked ``Stopped by user`` (failed with ``force``), out of the active set."""
    mission = await require(town, mission_id)
    when = now or utcnow()
    store = MissionStore(town.channel)
    mission = (mission.failed("Stopped by user (forced)", when) if force
               else mission.blocked("Stopped by user", when)).help_cleared(when)
    await store.save_mission(mission)
    await store.deactivate(mission.id)
    retired = await retire_help_requests(town, mission.id)
    await store.log(mission.id, f"Mission stopped via {via} (force={str(force).lower()}) and "
                                f"retired {retired} stale help request(s)", when)
    return mission


async def note(town: Town, mission_id: str, message: str, *, sender: str = "conductor",
               now: datetime | None = None) -> ControlMessage:
    """Queue an operator note for the dispatcher; clears the mission's help-request state."""
    if not message.strip():
        raise InvalidInputError("Note message must not be empty")
    mission = await require(town, mission_id)
    when = now or utcnow()
    store = MissionStore(town.channel)
    control = ControlMessage(id=str(uuid.uuid4()), mission_id=mission.id, sender=sender,
                             body=message, created_at=when)
    await store.save_controls([control])
    await store.save_mission(mission.help_cleared(when))
    retired = await retire_help_requests(town, mission.id)
    await store.log(mission.id, f"Conductor note queued for dispatcher: {message} (retired "
                                f"{retired} stale help request(s))", when)
    return control


async def dispatch_once(town: Town, mission_id: str | None = None, *,
                        github: GitHubClient | None = None,
                        now: datetime | None = None) -> DispatchResult:
    """One dispatcher tick over one mission or every active mission."""
    run = None if mission_id is None else (await require(town, mission_id)).id
    clock = (lambda: now) if now is not None else utcnow
    dispatcher = Dispatcher(town, github or github_for(town), clock)
    return await dispatcher.tick(run)


# --- gates and endings (MCP approve/reject, REST complete/fail/delete) -----------------------


async def approve(town: Town, mission_id: str, work_item_id: str | None = None, *,
                  now: datetime | None = None) -> tuple[WorkItem, Outcome]:
    """Approve a work item (the only blocked one when no id is given)."""
    mission = await require(town, mission_id)
    item = await _pick_item(town, mission, work_item_id)
    gates = Gates(town, now or utcnow())
    outcome = await gates.approve(mission.id, item.id, [])
    return await _reload(town, mission, item), outcome


async def reject(town: Town, mission_id: str, work_item_id: str, reason: str, *,
                 now: datetime | None = None) -> tuple[WorkItem, Outcome]:
    if not reason.strip():
        raise InvalidInputError("A rejection needs a reason")
    mission = await require(town, mission_id)
    item = await _pick_item(town, mission, work_item_id)
    outcome = await Gates(town, now or utcnow()).request_changes(mission.id, item.id,
                                                                  reason.strip())
    return await _reload(town, mission, item), outcome


async def _pick_item(town: Town, mission: MissionRun, work_item_id: str | None) -> WorkItem:
    items = await MissionStore(town.channel).list_work_items(mission.id)
    if work_item_id is None:
        blocked = [i for i in items if i.status is WorkStatus.BLOCKED]
        if len(blocked) != 1:
            raise InvalidInputError(
                f"Mission {mission.id} has {len(blocked)} blocked work items: name one")
        return blocked[0]
    try:
        wid = WorkItemId.parse(work_item_id)
    except InvalidInputError:
        raise InvalidInputError(f"Invalid work item ID: {work_item_id}") from None
    for item in items:
        if item.id == wid:
            return item
    raise MissionNotFoundError(f"{mission.id} work item {wid}")


async def _reload(town: Town, mission: MissionRun, item: WorkItem) -> WorkItem:
    again = await MissionStore(town.channel).get_work_item(mission.id, item.id)
    return again or item


async def complete(town: Town, mission_id: str, *, via: str = "API",
                   now: datetime | None = None) -> MissionRun:
    mission = await require(town, mission_id)
    if mission.state is MissionState.COMPLETED:
        return mission
    when = now or utcnow()
    store = MissionStore(town.channel)
    mission = mission.completed(when)
    await store.save_mission(mission)
    await store.deactivate(mission.id)
    await store.log(mission.id, f"Mission completed via {via}", when)
    return mission


async def fail(town: Town, mission_id: str, reason: str = "Marked failed via API", *,
               via: str = "API", now: datetime | None = None) -> MissionRun:
    """Failed, out of the active set; a completed mission stays completed (InvalidStateError)."""
    mission = await require(town, mission_id)
    if mission.state is MissionState.COMPLETED:
        raise InvalidStateError(f"Mission {mission.id} is completed and cannot be failed")
    when = now or utcnow()
    store = MissionStore(town.channel)
    mission = mission.failed(reason, when)
    await store.save_mission(mission)
    await store.deactivate(mission.id)
    await store.log(mission.id, f"Mission failed via {via}: {reason}", when)
    return mission


async def delete(town: Town, mission_id: str) -> bool:
    mission = await require(town, mission_id)
    return await MissionStore(town.channel).delete_mission(mission.id)


async def run_dispatcher(town: Town, mission_id: str | None = None, *,
                         github: GitHubClient | None = None) -> None:
    """Run the dispatcher loop (every 30 s) until cancelled."""
    run = None if mission_id is None else (await require(town, mission_id)).id
    await Dispatcher(town, github or github_for(town), utcnow).run(run=run)
