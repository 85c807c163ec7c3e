"""``tt assign`` and ``tt send``: giving work and sending messages (cli.md §5.1, §5.2)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

from cyclopts import Parameter

from tinytown.cli.output import say, usage_error

if TYPE_CHECKING:
    from tinytown.town import Town

AGENT_ID_ENV = "TINYTOWN_AGENT_ID"
AGENT_NAME_ENV = "TINYTOWN_AGENT_NAME"


# "-" (read stdin) must not be taken for an option.
TextArg = Annotated[str | None, Parameter(allow_leading_hyphen=True)]


def assign(agent: str, task: TextArg = None, *, file: str | None = None) -> None:
    """Create a task and assign it to an agent.

    Stores the task (state Assigned) and puts a task assignment message in the
    agent's inbox, in one step. Use 'tt send' for questions, updates and
    acknowledgements. If the town's runtime on this host is not running it is
    started; if the agent will not run the task (Stopped, Error, Paused) a
    warning on stderr says so and how to revive it.

    Parameters
    ----------
    agent : str
        Agent to assign to: name, nickname, short id or UUID ('conductor' for the supervisor).
    task : str
        Task description (quote it; it may span several lines); '-' reads it from stdin,
        so it does not show in 'ps'.
    file : str
        Read the task description from this file instead.
    """
    from tinytown.cli.notices import after_queueing
    from tinytown.cli.runner import run_town
    from tinytown.cli.textarg import read_text
    from tinytown.services import tasks

    description = read_text(task, file, what="task description")

    async def body(town: Town) -> None:
        done = await tasks.assign(town, agent, description)
        say(f"📋 Assigned task {done.task.id} to agent '{agent}'")
        await after_queueing(town, done.agent)

    run_town(body)


def send(
    to: str,
    message: TextArg = None,
    *,
    file: str | None = None,
    query: Annotated[bool, Parameter(negative=())] = False,
    info: Annotated[bool, Parameter(negative=())] = False,
    ack: Annotated[bool, Parameter(negative=())] = False,
    urgent: Annotated[bool, Parameter(negative=())] = False,
    sender: Annotated[str | None, Parameter(name="--from")] = None,
) -> None:
    """Send a message to an agent.

    Without a type flag the message is a task (actionable work). Inside an
    agent loop the sender is the agent itself (TINYTOWN_AGENT_ID /
    TINYTOWN_AGENT_NAME), else the supervisor. As with 'tt assign', a runtime
    that is down is started, and a recipient that will not run is warned about.

    Parameters
    ----------
    to : str
        Recipient: name, nickname, short id or UUID ('conductor' for the supervisor).
    message : str
        Message text; '-' reads it from stdin, so it does not show in 'ps'.
    file : str
        Read the message text from this file instead.
    query : bool
        Send a question that expects an answer or decision.
    info : bool
        Send an informational update (context only).
    ack : bool
        Send a confirmation: 'received…', 'approved…', 'rejected: <reason>', 'thanks…'.
    urgent : bool
        Put it in the urgent queue, read before the inbox at the next round.
    sender : str
        Sender (--from): an agent reference or a UUID.
    """
    from tinytown.cli.notices import after_queueing
    from tinytown.cli.runner import run_town
    from tinytown.cli.textarg import read_text
    from tinytown.services import messages

    if sum((query, info, ack)) > 1:
        usage_error("--query, --info and --ack are mutually exclusive")
    text = read_text(message, file, what="message")

    async def body(town: Town) -> None:
        sent = await messages.send(
            town,
            to,
            text,
            query=query,
            info=info,
            ack=ack,
            urgent=urgent,
            from_ref=sender,
            env_agent_id=os.environ.get(AGENT_ID_ENV),
            env_agent_name=os.environ.get(AGENT_NAME_ENV),
        )
        sender_id = sent.message.from_
        note = "" if sender_id.is_supervisor else f" (from {sender_id})"
        if sent.urgent:
            say(f"🚨 Sent URGENT {sent.label} message to '{to}'{note}")
        else:
            say(f"📤 Sent {sent.label} message to '{to}'{note}")
        await after_queueing(town, sent.agent)

    run_town(body)
