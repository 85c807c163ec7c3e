"""``tt mission start|status|resume|stop|list|dispatch|note`` (missions.md §10)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from cyclopts import App, Parameter

from tinytown.cli.output import emit_json, one_line_error, say, warn

if TYPE_CHECKING:
    from tinytown.town import Town

app = App(
    name="mission",
    help="Mission mode: turn GitHub issues and docs into work the town runs on its own.",
    help_format="plaintext",
    error_formatter=one_line_error,
)

Flag = Annotated[bool, Parameter(negative=())]


@app.command
def start(
    *,
    issue: Annotated[list[str] | None, Parameter(name=["--issue", "-i"], negative=(),
                                                 consume_multiple=False)] = None,
    doc: Annotated[list[str] | None, Parameter(name=["--doc", "-d"], negative=(),
                                               consume_multiple=False)] = None,
    max_parallel: int = 2,
    no_reviewer: Flag = False,
    manifest: str | None = None,
    json: Flag = False,
) -> None:
    """Start a mission from GitHub issues and/or design documents.

    Parameters
    ----------
    issue : list[str]
        An issue: N (in this repository's GitHub origin), owner/repo#N or an issue URL.
        Repeat for several.
    doc : list[str]
        A document path to turn into a design work item. Repeat for several.
    max_parallel : int
        How many work items may be in progress at once.
    no_reviewer : bool
        Do not require a reviewer's approval for implement and test work.
    manifest : str
        A TOML file with [[work_items]] (or [[overrides]]) entries: issue, kind,
        depends_on, owner_role, skip, priority.
    json : bool
        Print one JSON document instead of text.
    """
    from tinytown.cli.commands.mission_view import started_lines, status_doc
    from tinytown.cli.runner import run_town
    from tinytown.services import missions

    async def body(town: Town) -> None:
        started = await missions.start(
            town, issue or [], doc or [], max_parallel=max_parallel,
            reviewer_required=not no_reviewer, manifest=manifest,
        )
        for bad in started.invalid_issues:
            warn(f"⚠️  Could not parse issue: {bad}")
        if json:
            st = await missions.status(town, started.mission.id)
            emit_json(status_doc(st))
            return
        for line in started_lines(started):
            say(line)

    run_town(body)


@app.command
def status(
    *,
    run: Annotated[str | None, Parameter(name=["--run", "-r"])] = None,
    work: Flag = False,
    watch: Flag = False,
    dispatcher: Flag = False,
    json: Flag = False,
) -> None:
    """Show active missions, or one mission in detail.

    Parameters
    ----------
    run : str
        The mission's id; without it, every active mission.
    work : bool
        List every work item.
    watch : bool
        List every watch.
    dispatcher : bool
        Show the dispatcher's state and pending operator notes.
    json : bool
        Print one JSON document instead of text.
    """
    from tinytown.cli.commands.mission_view import status_doc, status_lines, summary_lines
    from tinytown.cli.runner import run_town
    from tinytown.codec.mission_codec import mission_to_dict
    from tinytown.services import missions
    from tinytown.town import utcnow

    detailed = work or watch or dispatcher

    async def body(town: Town) -> None:
        if run is not None:
            ids = [run]
        else:
            found = await missions.list_missions(town)
            if json and not detailed:
                emit_json({"missions": [mission_to_dict(m) for m in found],
                           "count": len(found)})
                return
            if not found:
                say("📋 No active missions")
                say("   Start one with: tt mission start --issue <N>")
                return
            if not detailed:
                say(f"📋 Active Missions: {len(found)}")
                for m in found:
                    for line in summary_lines(m, utcnow()):
                        say(line)
                return
            ids = [str(m.id) for m in found]
        docs = []
        for n, mid in enumerate(ids):
            st = await missions.status(town, mid)
            if json:
                docs.append(status_doc(st))
                continue
            if n:
                say()
            for line in status_lines(st, work=work, watch=watch, dispatcher=dispatcher):
                say(line)
        if json:
            emit_json(docs[0] if run is not None else {"missions": docs, "count": len(docs)})

    run_town(body)


@app.command(name="list")
def list_missions(*, all: Flag = False, json: Flag = False) -> None:
    """List active missions (every mission with --all).

    Parameters
    ----------
    all : bool
        Include stopped, completed and failed missions.
    json : bool
        Print one JSON document instead of text.
    """
    from tinytown.cli.commands.mission_view import summary_lines
    from tinytown.cli.runner import run_town
    from tinytown.codec.mission_codec import mission_to_dict
    from tinytown.services import missions
    from tinytown.town import utcnow

    async def body(town: Town) -> None:
        found = await missions.list_missions(town, include_all=all)
        if json:
            emit_json({"missions": [mission_to_dict(m) for m in found], "count": len(found)})
            return
        if not found:
            say("📋 No missions found")
            return
        say(f"📋 Missions: {len(found)}")
        for m in found:
            for line in summary_lines(m, utcnow()):
                say(line)

    run_town(body)


@app.command
def resume(run_id: str) -> None:
    """Resume a blocked or stopped mission.

    Parameters
    ----------
    run_id : str
        The mission's id.
    """
    from tinytown.cli.runner import run_town
    from tinytown.models.mission import MissionState
    from tinytown.services import missions

    async def body(town: Town) -> None:
        done = await missions.resume(town, run_id)
        mid = done.mission.id
        if done.resumed:
            say(f"▶️  Mission {mid} resumed")
        elif done.mission.state is MissionState.RUNNING:
            say(f"ℹ️  Mission {mid} is already running")
        elif done.mission.state is MissionState.COMPLETED:
            say(f"ℹ️  Mission {mid} is already completed")
        elif done.mission.state is MissionState.FAILED:
            say(f"ℹ️  Mission {mid} has failed and cannot be resumed")
        else:
            say(f"ℹ️  Mission {mid} is not blocked and cannot be resumed")

    run_town(body)


@app.command
def stop(run_id: str, *, force: Flag = False) -> None:
    """Stop a mission (it can be resumed; --force fails it for good).

    Parameters
    ----------
    run_id : str
        The mission's id.
    force : bool
        Mark the mission failed instead of blocked; it cannot be resumed.
    """
    from tinytown.cli.runner import run_town
    from tinytown.services import missions

    async def body(town: Town) -> None:
        mission = await missions.stop(town, run_id, force=force)
        say(f"⏹️  Mission {mission.id} stopped")

    run_town(body)


@app.command
def note(run_id: str, message: str) -> None:
    """Queue a note for the dispatcher: "resume ...", "pause ...", "redirect [ITEM] to AGENT".

    Parameters
    ----------
    run_id : str
        The mission's id.
    message : str
        The note. resume/retry unblocks, pause/hold blocks, redirect/reassign moves a
        work item to another agent; anything else is recorded.
    """
    from tinytown.cli.runner import run_town
    from tinytown.services import missions

    async def body(town: Town) -> None:
        control = await missions.note(town, run_id, message)
        say(f"📝 Queued dispatcher note for mission {control.mission_id}")

    run_town(body)


@app.command
def dispatch(
    *,
    run: Annotated[str | None, Parameter(name=["--run", "-r"])] = None,
    once: Flag = False,
    json: Flag = False,
) -> None:
    """Run the mission dispatcher (every 30 s) in this terminal, or one tick with --once.

    The town's runtime (tt start) already runs the dispatcher; this is for scripts
    and for towns without a runtime.

    Parameters
    ----------
    run : str
        Only this mission (even if it is not active).
    once : bool
        One tick, then exit.
    json : bool
        With --once: print the tick's result as JSON.
    """
    from tinytown.cli.commands.mission_view import dispatch_doc
    from tinytown.cli.runner import run_town
    from tinytown.services import missions

    async def body(town: Town) -> None:
        if once:
            result = await missions.dispatch_once(town, run)
            if json:
                emit_json(dispatch_doc(result))
            else:
                say(result.summary_line)
            return
        say("🛰️  Mission dispatcher running")
        say(f"   Run filter: {run}" if run else "   Scope: all active missions")
        await missions.run_dispatcher(town, run)

    run_town(body)
