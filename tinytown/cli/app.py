"""The root ``tt`` app and the lazy registration of every command."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinytown import __version__
from tinytown.cli.context import GLOBAL_HELP
from tinytown.cli.output import one_line_error

if TYPE_CHECKING:
    from cyclopts import App

ABOUT = "Tinytown - Simple multi-agent orchestration using Redis"

# (module:function under tinytown.cli.commands, command name, one-line help). Help is given here so that
# `tt --help` lists commands without importing their modules.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("town:init", "init", "Create a town here: config, .tt/ layout, its Redis, registry entry."),
    ("runtime:start", "start", "Run the town's agent runtime (foreground; --detach for background); follows it if running."),
    ("town:stop", "stop", "Ask every agent of the town to stop at its next round boundary."),
    ("town:reset", "reset", "Delete the town's agents, tasks and queues from Redis."),
    ("runtime:spawn", "spawn", "Create an agent and start it in the town's runtime."),
    ("agents:list_agents", "list", "List agents and their states (--long adds model and queue sizes)."),
    ("runtime:restart", "restart", "Restart a stopped agent with fresh rounds, keeping its id."),
    ("agents:kill", "kill", "Stop an agent after its current round."),
    ("agents:interrupt", "interrupt", "Pause an agent (it finishes the round, then waits)."),
    ("agents:resume", "resume", "Resume a paused agent."),
    ("agents:close", "close", "Drain an agent: finish queued work, then stop."),
    ("agents:wait", "wait", "Wait until an agent stops (or a timeout)."),
    ("agents:prune", "prune", "Remove stopped agents (or all with --all); their tasks go to the backlog."),
    ("work:assign", "assign", "Create a task and assign it to an agent."),
    ("work:send", "send", "Send a message to an agent (task, --query, --info, --ack, --urgent)."),
    ("inbox:inbox", "inbox", "Show an agent's inbox, or every inbox with --all."),
    ("inbox:tasks", "tasks", "Pending work of every agent (alias of 'inbox --all')."),
    ("status:status", "status", "Town overview: agents, queues, tasks."),
    ("attention:attention", "attention", "What needs a human now: questions, gates, stuck agents and work."),
    ("attention:answer", "answer", "Answer an agent's question to the supervisor/conductor."),
    ("task:app", "task", "Task operations: complete, show, list, current."),
    ("mission:app", "mission", "Mission mode: GitHub issues become work the town runs on its own."),
    ("backlog:app", "backlog", "The unassigned-task backlog: add, list, claim, assign-all, remove."),
    ("recovery:recover", "recover", "Find agents whose runtime died and recover them."),
    ("recovery:reclaim", "reclaim", "Move work of dead agents back to the backlog or another agent."),
    ("conductor:conductor", "conductor", "Start the conductor: an interactive AI session that drives the town."),
    ("plan:plan", "plan", "Show the task plan in tasks.toml (--init writes a template)."),
    ("plan:sync", "sync", "Sync tasks.toml with Redis: push (file to town) or pull (town to file)."),
    ("persistence:save", "save", "Snapshot the town's Redis state to a file git can carry."),
    ("persistence:restore", "restore", "Explain and perform restoring the town's state from a snapshot."),
    ("settings:config", "config", "Show or set global settings in ~/.tt/config.toml."),
    ("settings:towns", "towns", "List the towns registered on this machine."),
    ("events:history", "history", "Recent activity of the town's agents."),
    ("events:events", "events", "Town event stream (--follow to keep watching)."),
    ("settings:bootstrap", "bootstrap", "Install a Redis 8 server into ~/.tt/bin."),
    ("settings:auth_app", "auth", "Townhall authentication helpers (gen-key)."),
    ("migrate:migrate", "migrate", "Migrate old Redis keys into this town (and JSON records to hashes)."),
    ("townhall:app", "townhall", "Serve the town's REST API (or MCP: mcp-stdio, mcp-http)."),
    ("demo:demo", "demo", "Run a self-contained demo: a temporary town with three demo agents."),
)


PREBUILT: list[App] = []
"""The town's command server puts here the app it built and warmed before forking its
workers (it never prints with it: a console cyclopts made for output would stay)."""


def build_app() -> App:
    if PREBUILT:
        return PREBUILT[0]
    from cyclopts import App  # lazy: the top-level help (tinytown.cli.help_text) needs none

    app = App(
        name="tt",
        help=f"{ABOUT}\n\n{GLOBAL_HELP}",
        version=f"tt {__version__}",
        version_flags=["--version", "-V"],
        help_format="plaintext",
        error_formatter=one_line_error,
    )
    for path, name, help_text in COMMANDS:
        app.command(f"tinytown.cli.commands.{path}", name=name, help=help_text)
    return app
