"""`tt --help` is cheap and every command's --help documents every flag."""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys

import pytest

from tinytown.cli.app import COMMANDS

PROBE = """
import sys
from tinytown.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
heavy = sorted(m for m in sys.modules
               if m in ("trio", "mcp", "jwt") or m.startswith((
                   "tinytown.redis", "hiredis", "redis", "quart", "hypercorn", "tinytown.town",
                   "mcp.", "starlette", "tinytown.mcp", "jwt.")))
print("HEAVY:" + ",".join(heavy))
"""


def test_top_level_help_imports_no_redis_trio_or_http() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True).stdout
    assert "Usage: tt" in out
    heavy = out.rsplit("HEAVY:", 1)[1].strip()
    assert heavy == "", f"tt --help imported {heavy}"
    for _, name, _ in COMMANDS:
        assert f" {name} " in out, f"{name} missing from tt --help"


def _target(path: str) -> object:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(f"tinytown.cli.commands.{module}"), attr)


def _functions(obj: object) -> list[tuple[str, object]]:
    """The command functions behind a registration (a function, or an App's commands)."""
    if callable(obj) and inspect.isfunction(obj):
        return [("", obj)]
    out = []
    for name in obj:  # type: ignore[attr-defined]
        if name.startswith("-"):
            continue
        sub = obj[name]  # type: ignore[index]
        if sub.default_command is not None:
            out.append((name, sub.default_command))
    return out


@pytest.mark.parametrize(("path", "name"), [(p, n) for p, n, _ in COMMANDS])
def test_every_command_documents_every_parameter(path: str, name: str, tt_nowhere) -> None:  # type: ignore[no-untyped-def]
    functions = _functions(_target(path))
    assert functions, f"{name}: no command functions found"
    for sub, fn in functions:
        args = [name, sub, "--help"] if sub else [name, "--help"]
        result = tt_nowhere(*args)
        assert result.code == 0, result.err
        doc = inspect.getdoc(fn) or ""
        assert doc.strip(), f"{name} {sub}: no docstring"
        for param in inspect.signature(fn).parameters.values():
            if param.name in ("self", "args", "kwargs"):
                continue
            flag = param.name.replace("_", "-")
            # cyclopts shows a variadic positional as ARGS... in the usage line.
            shown = "ARGS..." if param.kind is param.VAR_POSITIONAL else flag.upper()
            assert shown in result.out.upper(), f"{name} {sub}: {flag} not in --help"
            assert f"{param.name}:" in doc or f"{param.name} :" in doc, (
                f"{name} {sub}: parameter {param.name} undocumented"
            )


def test_town_defaults_to_tinytown_town_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinytown.cli.context import OPTIONS, extract_global_options

    monkeypatch.setenv("TINYTOWN_TOWN", "/srv/town")
    assert extract_global_options(["status", "-v"]) == ["status"]
    assert (OPTIONS.town, OPTIONS.verbose) == ("/srv/town", True)
    assert extract_global_options(["status", "--town", "/other"]) == ["status"]
    assert OPTIONS.town == "/other"
    monkeypatch.delenv("TINYTOWN_TOWN")
    assert extract_global_options(["list", "--", "-t"]) == ["list", "--", "-t"]
    assert OPTIONS.town == "."


@pytest.mark.parametrize("args", [["-t"], ["status", "-t"], ["list", "--town"]])
def test_town_option_without_a_value_says_so(tt_nowhere, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    result = tt_nowhere(*args)
    assert result.code == 2
    assert result.out == ""
    assert result.err == (
        f"Error: {args[-1]} needs a value: the town directory, e.g. {args[-1]} ./my-town\n"
    )


@pytest.mark.parametrize("width", [*range(74, 131, 4), 200])
def test_piped_top_level_help_is_exactly_what_cyclopts_writes(
    width: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tinytown.cli.app import build_app
    from tinytown.cli.help_text import render

    monkeypatch.setenv("COLUMNS", str(width))
    with pytest.raises(SystemExit):
        build_app()(["--help"])
    drawn = capsys.readouterr().out
    mine = render(width)
    assert mine is not None
    assert mine == drawn


def test_piped_help_loads_neither_cyclopts_nor_rich_and_declines_narrow_widths() -> None:
    from tinytown.cli.help_text import render

    probe = PROBE.replace('print("HEAVY:"', 'print("UI:" + ",".join(m for m in sys.modules '
                          'if m.split(".")[0] in ("cyclopts", "rich")))\nprint("HEAVY:"')
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, env={**os.environ, "COLUMNS": "100"})
    assert "UI:\n" in done.stdout
    assert render(60) is None  # the help text itself would wrap: cyclopts draws it
