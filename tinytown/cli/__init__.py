"""The ``tt`` command line: a thin adapter over :mod:`tinytown.services`.

Commands are registered lazily (import paths), so ``tt --help`` imports no
Redis or Trio code. One module per command group under ``tinytown.cli.commands``.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Console entry point of ``tt``: the town's command server if it runs, else in-process."""
    if argv is None:
        from tinytown.cli.cmdclient import exit_now, try_command_server

        status = try_command_server(sys.argv[1:])
        if status is not None:
            exit_now(status)
    run(list(sys.argv[1:] if argv is None else argv))


def run(argv: list[str]) -> None:
    """Parse ``argv`` and run the command in this process."""
    if argv in ([], ["--help"], ["-h"]):
        from tinytown.cli.help_text import fast_help

        text = fast_help()
        if text is not None:
            try:
                sys.stdout.write(text)
                sys.stdout.flush()
            except BrokenPipeError:  # tt --help | head -1: end quietly, as a Unix tool does
                from tinytown.cli.output import stream_gone

                stream_gone(sys.stdout)
            return
    from tinytown.cli.app import build_app
    from tinytown.cli.context import extract_global_options

    args = extract_global_options(list(argv))
    if args and args[-1] in ("-t", "--town") and "--" not in args:
        # Left in place only when nothing follows it; the parser would call it unknown.
        from tinytown.cli.exitcodes import USAGE
        from tinytown.cli.output import error_line

        error_line(f"{args[-1]} needs a value: the town directory, e.g. {args[-1]} ./my-town")
        raise SystemExit(USAGE)
    from tinytown.cli.output import BROKEN_PIPE_EXIT, finish_output, stream_gone

    app = build_app()
    try:
        app(args)
    except BaseException as exc:
        if not _broken_pipe(exc):
            raise
        stream_gone(sys.stdout)  # a reader that left: end quietly, as a Unix tool does
        raise SystemExit(BROKEN_PIPE_EXIT) from None
    finally:
        finish_output()


def _broken_pipe(exc: BaseException) -> bool:
    if isinstance(exc, BrokenPipeError):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_broken_pipe(e) for e in exc.exceptions)
    return False
