"""Run a command's async body on Trio with the town connected and errors mapped.

Commands call :func:`run_town` (needs a town) or :func:`run_async` (no town).
Every :class:`~tinytown.errors.TinytownError` becomes one line on stderr and
the exit code of :mod:`tinytown.cli.exitcodes`; nothing else is caught here.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from tinytown.cli import exitcodes
from tinytown.cli.context import OPTIONS
from tinytown.cli.output import error_line

if TYPE_CHECKING:
    from tinytown.town import Town

T = TypeVar("T")


def setup_logging() -> None:
    logging.basicConfig(
        level=logging.DEBUG if OPTIONS.verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
        stream=sys.stderr,
    )


def fail(exc: BaseException) -> NoReturn:
    error_line(str(exc))
    raise SystemExit(exitcodes.exit_code_for(exc))


def run_async(fn: Callable[[], Awaitable[T]]) -> T:
    """Run ``fn()`` under Trio, mapping tinytown errors to exit codes."""
    import trio

    from tinytown.errors import TinytownError

    setup_logging()

    async def main() -> T:
        return await fn()

    try:
        return trio.run(main)
    except TinytownError as exc:
        fail(exc)
    except BaseExceptionGroup as group:
        leaf = _first_tinytown_error(group)
        if leaf is None:
            raise
        fail(leaf)
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted\n")
        raise SystemExit(exitcodes.INTERRUPTED) from None


def round_token_text() -> str | None:
    """The fencing token of the model round running this command (``$TINYTOWN_ROUND_TOKEN``)."""
    from tinytown.models.fencing import ROUND_TOKEN_ENV

    return os.environ.get(ROUND_TOKEN_ENV) or None


def run_town(
    fn: Callable[[Town], Awaitable[T]], *, start: bool = True, check_epoch: bool = True
) -> T:
    """Connect to the town of ``--town`` and run ``fn(town)`` (see ``Town.connect``).

    Run from a model round that has been superseded (its token is no longer
    the agent's round in progress), every command is refused before it runs.
    """

    async def body() -> T:
        from tinytown.services.fencing import check_round
        from tinytown.town import Town

        async with Town.connect(OPTIONS.town, start=start, check_epoch=check_epoch) as town:
            await check_round(town, round_token_text())
            return await fn(town)

    return run_async(body)


def _first_tinytown_error(group: BaseExceptionGroup[Any]) -> BaseException | None:
    from tinytown.errors import TinytownError

    for exc in group.exceptions:
        if isinstance(exc, TinytownError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = _first_tinytown_error(exc)
            if found is not None:
                return found
    return None
