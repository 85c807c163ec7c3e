"""Global options (``--town/-t``, ``--verbose/-v``), accepted anywhere on the command line."""

from __future__ import annotations

import os

import attrs

GLOBAL_HELP = (
    "Global options (before or after the command):\n"
    "  -t, --town PATH   Town root directory (default: $TINYTOWN_TOWN, else .)\n"
    "  -v, --verbose     Debug logging on stderr"
)


def default_town() -> str:
    """``$TINYTOWN_TOWN`` (set by the runtime for model CLIs), else the current directory."""
    return os.environ.get("TINYTOWN_TOWN", "").strip() or "."


@attrs.define
class GlobalOptions:
    town: str = attrs.field(factory=default_town)
    verbose: bool = False


OPTIONS = GlobalOptions()


def extract_global_options(argv: list[str]) -> list[str]:
    """Remove the global options from ``argv`` (up to ``--``), storing them in OPTIONS."""
    OPTIONS.town = default_town()
    OPTIONS.verbose = False
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out.extend(argv[i:])
            break
        if arg in ("-t", "--town"):
            if i + 1 >= len(argv):
                out.append(arg)  # let the parser report the missing value
                i += 1
                continue
            OPTIONS.town = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--town="):
            OPTIONS.town = arg.split("=", 1)[1]
        elif arg in ("-v", "--verbose"):
            OPTIONS.verbose = True
        else:
            out.append(arg)
        i += 1
    return out
