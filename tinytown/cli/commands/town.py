"""``tt init``, ``tt stop``, ``tt reset``: a town's life cycle."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from cyclopts import Parameter

from tinytown.cli.context import OPTIONS
from tinytown.cli.output import say

if TYPE_CHECKING:
    from tinytown.town import Town

SPAWN_HINT = "🚀 Run 'tt spawn <name>' to create agents"


def _redis_line(town: Town) -> str:
    target = town.target
    if target.mode == "town_socket":
        return "📡 Redis running with Unix socket for fast message passing"
    if target.mode == "town_tcp" and target.managed:
        return f"📡 Redis running on {town.config.redis.host}:{town.config.redis.port}"
    return f"📡 Using Redis at {target.redacted} (not managed by tt)"


def init(*, name: Annotated[str | None, Parameter(name=["--name", "-n"])] = None) -> None:
    """Create a town here: tinytown.toml, the .tt/ layout, its Redis, a registry entry.

    Refuses a directory that already holds a town (use 'tt start' there).
    Adds .tt to .gitignore and registers the town in ~/.tt/towns.toml.

    Parameters
    ----------
    name : str, optional
        Town name; default <repo>-<branch> inside git, else the directory name.
    """
    from tinytown.cli.runner import run_async
    from tinytown.config import default_town_name, register_town, town_config_path
    from tinytown.errors import InvalidInputError
    from tinytown.services.town_ops import gitignore_has_tt
    from tinytown.town import Town

    root = Path(OPTIONS.town)
    had_gitignore_entry = gitignore_has_tt(root)
    config_existed = town_config_path(root).exists()

    async def body() -> None:
        town_name = default_town_name(root) if name is None else name.strip()
        if not town_name:
            raise InvalidInputError("Town name must not be empty")
        created = False
        try:
            async with Town.init(root, town_name, register=False) as town:
                created = True
                say(f"✨ Initialized town '{town.name}' at {OPTIONS.town}")
                if not had_gitignore_entry:
                    say("📝 Added .tt to .gitignore")
                say(_redis_line(town))
                say(SPAWN_HINT)
        except BaseException:
            if not created and not config_existed:
                await _undo_init(root)
            raise
        try:
            register_town(root, town_name)
        except OSError as exc:
            say(f"⚠️  Could not register town in ~/.tt/towns.toml: {exc}")

    run_async(body)


async def _undo_init(root: Path) -> None:
    """After a failed init: no half-made town, so that a retry starts afresh."""
    import trio

    from tinytown.config import town_config_path
    from tinytown.errors import TinytownError
    from tinytown.redis import server

    town_config_path(root).unlink(missing_ok=True)
    with trio.CancelScope(shield=True), trio.move_on_after(10):
        try:
            await server.stop_town_server(root)
        except (TinytownError, OSError):
            pass  # best effort; the original error is what the user needs to see


def stop(*, redis: Annotated[bool, Parameter(negative=())] = False) -> None:
    """Ask every live agent of the town to stop at the start of its next round.

    Agents in Stopped, Error or Cold state are left alone. The town's Redis
    keeps running unless --redis is given.

    Parameters
    ----------
    redis : bool
        Also shut down the town's own Redis server (it saves .tt/redis.rdb first).
    """
    from tinytown.cli.runner import run_town
    from tinytown.services.town_ops import stop_all_agents

    async def body(town: Town) -> None:
        from tinytown.runtime.containment import end_orphans
        from tinytown.runtime.settings import RuntimeSettings

        stopped = await stop_all_agents(town)
        ended = await end_orphans(town.root, RuntimeSettings.from_env().kill_grace_s)
        if ended:
            say(f"🧹 Ended {len(ended)} model process(es) left by a dead runtime")
        if not stopped:
            say(f"👋 No active agents to stop in town '{town.name}'")
        else:
            say(f"🛑 Requested graceful stop for {len(stopped)} agent(s) in town '{town.name}'")
            say("   Agents will stop at the start of their next round.")
        if redis and town.target.managed:
            from tinytown.runtime.launch import shut_down_runtimes

            # Without its Redis a runtime would retry forever: stop it first.
            for pid in await shut_down_runtimes(town):
                say(f"   Stopped the town's runtime (pid {pid}).")
            await town.stop_redis()
            say("   The town's Redis has been shut down (state saved in .tt/redis.rdb).")
        elif redis:
            say(f"   Redis at {town.target.redacted} is not managed by tt: left running.")
        elif town.target.managed:
            say("   The town's Redis keeps running (tt stop --redis shuts it down).")
        else:
            say("   Central Redis remains available to other towns.")

    run_town(body)


def reset(
    *,
    force: Annotated[bool, Parameter(negative=())] = False,
    agents_only: Annotated[bool, Parameter(negative=())] = False,
) -> None:
    """Delete the town's state from Redis: agents, inboxes, tasks, backlog, events.

    Without --force it only shows what would be deleted.

    Parameters
    ----------
    force : bool
        Really delete (there is no interactive prompt).
    agents_only : bool
        Delete only agents and their inboxes, stop flags and activity; keep tasks and backlog.
    """
    from tinytown.cli.runner import run_town
    from tinytown.services.town_ops import preview_reset, reset_town

    async def body(town: Town) -> None:
        preview = await preview_reset(town, agents_only=agents_only)
        if agents_only:
            say(f"🗑️  Resetting agents in town '{town.name}'")
            say("   This will delete:")
            say(f"   - {preview.agents} agent(s) and their inboxes")
            say("   Tasks and backlog will be preserved.")
        else:
            say(f"🗑️  Resetting town '{town.name}'")
            say("   This will delete:")
            say(f"   - {preview.agents} agent(s)")
            say(f"   - {preview.tasks} task(s)")
            say(f"   - {preview.backlog} backlog item(s)")
        say()
        if not force:
            say("⚠️  This action cannot be undone!")
            flags = "--agents-only --force" if agents_only else "--force"
            say(f"   Run with --force to confirm: tt reset {flags}")
            return
        deleted = await reset_town(town, agents_only=agents_only)
        suffix = " (agents only)" if agents_only else ""
        say(f"✅ Reset complete: deleted {deleted} Redis keys{suffix}")
        say("   Run 'tt spawn <name>' to create new agents")

    run_town(body, check_epoch=False)  # reset is how a user accepts a town that lost its data
