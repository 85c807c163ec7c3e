"""Imports point one way only, and only the adapters talk to people (ARCHITECTURE.md "Layers").

The checker reads every import of every module: absolute, relative, inside
functions (lazy), under ``if TYPE_CHECKING``, ``importlib.import_module("…")``,
``from tinytown import Name`` (resolved through the package's lazy exports), and
``python -m tinytown.x`` spelled as a string (a subprocess is an import too).
Below the adapters it also refuses ``print``, ``input``, ``sys.argv``,
``sys.stdout``/``sys.stderr`` and HTTP or argument-parsing libraries.
"""

from __future__ import annotations

import ast
import functools
import re
import shutil
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "tinytown"

# The layer table of ARCHITECTURE.md, one entry per top-level module or package.
# Lower number = lower layer; a module may import its own layer or lower ones.
LAYERS: dict[str, int] = {
    "errors": 0,
    "procwait": 0,  # process liveness and pidfd waits: the OS only
    "files": 0,
    "models": 1,
    "codec": 2,
    "keys": 2,
    "config": 3,  # reads redis.url / redis.server (socket paths): same layer
    "redis": 3,
    "scripts": 4,
    "store": 4,
    "channel": 4,
    "epoch": 4,
    "town": 5,
    "town_redis": 5,
    "services": 6,
    "runtime": 7,
    "mission": 6,  # the mission engine; services/missions.py is its business API
    "api": 8,
    "cli": 8,
    "townhall": 8,
    "mcp": 8,
    "__init__": 8,  # the package's public names, exported lazily
}
ADAPTER = 8
# Named by ARCHITECTURE.md / the open issues, not written yet.
PLANNED: frozenset[str] = frozenset()
# Programs of their own (a model CLI, ``python -m`` entry points): they talk to a terminal.
PROGRAMS = frozenset({"runtime/__main__.py", "runtime/demo_model.py", "runtime/reaper.py"})

FORBIDDEN_BELOW_ADAPTERS = frozenset(
    {"http", "urllib.request", "httpx", "requests", "aiohttp", "h11", "h2", "quart",
     "quart_trio", "hypercorn", "starlette", "uvicorn", "mcp", "cyclopts", "argparse",
     "click", "typer"}
)
_MODULE_STRING = re.compile(r"tinytown(\.[a-z_][a-z0-9_]*)+")


def _top(rel: Path) -> str:
    return rel.parts[0].removesuffix(".py")


def _module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["tinytown", *parts])


def _is_module(pkg: Path, dotted: str) -> bool:
    path = pkg.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


@functools.cache
def _lazy_exports(pkg: Path) -> dict[str, str]:
    """``tinytown.__init__._EXPORTS``: public name -> the module that defines it."""
    tree = ast.parse((pkg / "__init__.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in targets):
                value = ast.literal_eval(node.value)  # type: ignore[arg-type]
                return dict(value)
    return {}


def imports_of(pkg: Path, path: Path) -> list[str]:
    """Every module ``path`` imports, by any means, as absolute dotted names."""
    rel = path.relative_to(pkg)
    own = _module_name(rel)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    exports = _lazy_exports(pkg)
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append(module)
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                if _is_module(pkg, sub):
                    found.append(sub)
                elif module == "tinytown" and alias.name in exports:
                    found.append(exports[alias.name])
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if name in ("import_module", "__import__") and isinstance(first, ast.Constant):
                found.append(str(first.value))
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _MODULE_STRING.fullmatch(node.value)
            and _is_module(pkg, node.value)
        ):
            found.append(node.value)  # "python -m tinytown.cli": a hidden import
    return found


def _speaks(tree: ast.AST) -> list[str]:
    """print/input calls and sys.argv/stdout/stderr uses in a module."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("print", "input"):
                found.append(f"{node.func.id}() at line {node.lineno}")
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
            and node.attr in ("argv", "stdout", "stderr", "stdin")
        ):
            found.append(f"sys.{node.attr} at line {node.lineno}")
    return found


def violations(pkg: Path) -> list[str]:
    """Every breach of the layer rules in the package at ``pkg`` (empty when clean)."""
    out = []
    for path in sorted(pkg.rglob("*.py")):
        rel = path.relative_to(pkg)
        top = _top(rel)
        own = LAYERS.get(top)
        if own is None:
            out.append(f"{rel}: in no layer (add '{top}' to the layer table)")
            continue
        program = rel.as_posix() in PROGRAMS
        for module in imports_of(pkg, path):
            parts = module.split(".")
            if parts[0] == "tinytown" and len(parts) > 1:
                theirs = LAYERS.get(parts[1])
                if theirs is None:
                    out.append(f"{rel}: imports {module}, which is in no layer")
                elif theirs > own and not (program and module == "tinytown.cli"):
                    out.append(f"{rel} (layer {own}) imports {module} (layer {theirs})")
            elif own < ADAPTER and not program:
                if any(module == f or module.startswith(f + ".") for f in
                       FORBIDDEN_BELOW_ADAPTERS):
                    out.append(f"{rel} (layer {own}) imports {module}: adapters only")
        if own < ADAPTER and not program:
            out += [f"{rel} (layer {own}) uses {what}: adapters only"
                    for what in _speaks(ast.parse(path.read_text()))]
    return out


def test_the_package_keeps_its_layers() -> None:
    found = violations(PKG)
    assert not found, "\n".join(found)


def test_the_table_names_only_what_exists() -> None:
    missing = [
        name for name in LAYERS
        if name not in PLANNED and not _is_module(PKG, f"tinytown.{name}")
        and name != "__init__"
    ]
    assert not missing, f"layer table names modules that do not exist: {missing}"


def test_models_import_only_errors() -> None:
    for path in (PKG / "models").rglob("*.py"):
        for module in imports_of(PKG, path):
            if module.startswith("tinytown"):
                assert module.startswith(("tinytown.models", "tinytown.errors")), (path, module)


# --- the checker has teeth: plant breaches in a copy of the package --------------------


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    dst = tmp_path / "tinytown"
    shutil.copytree(PKG, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst  # as clean as the package (test_the_package_keeps_its_layers)


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


@pytest.mark.parametrize(
    ("where", "planted", "expected"),
    [
        ("services/tasks.py", "\ndef _x() -> None:\n    from tinytown.cli import app\n",
         "imports tinytown.cli"),
        ("services/tasks.py", "\nfrom ..runtime import host\n", "imports tinytown.runtime"),
        ("store.py", "\nif TYPE_CHECKING:\n    from tinytown.town import Town\n",
         "imports tinytown.town"),
        ("channel.py", "\nfrom tinytown import Town\n", "imports tinytown.api"),
        ("redis/client.py", "\nimport importlib\nimportlib.import_module('tinytown.services')\n",
         "imports tinytown.services"),
        ("runtime/host.py", "\nARGV = ['python', '-m', 'tinytown.cli', 'status']\n",
         "imports tinytown.cli"),
        ("services/agents.py", "\ndef _y() -> None:\n    print('hello')\n", "uses print()"),
        ("services/agents.py", "\nimport sys\nA = sys.argv\n", "uses sys.argv"),
        ("runtime/host.py", "\nimport httpx\n", "imports httpx"),
        ("models/task.py", "\nfrom tinytown.keys import Keys\n", "imports tinytown.keys"),
    ],
)
def test_a_planted_breach_is_caught(copy: Path, where: str, planted: str, expected: str) -> None:
    _append(copy / where, planted)
    found = violations(copy)
    assert any(where in v and expected in v for v in found), found


def test_a_module_outside_the_table_is_caught(copy: Path) -> None:
    (copy / "gadgets.py").write_text("X = 1\n")
    assert any("gadgets.py: in no layer" in v for v in violations(copy))


MAX_MODULE_LINES = 400  # ARCHITECTURE.md: modules of 100-400 lines, one responsibility


def test_no_module_grows_past_the_split_line() -> None:
    """Issue 16 item 7: a module past 400 lines is split by responsibility."""
    too_long = {
        str(path.relative_to(PKG)): n
        for path in PKG.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert too_long == {}


# The only icons the services may carry: 0.10's activity lines (data-model.md §6.2) and the
# runtime log lines the agent-log excerpt reads and condenses (agent-loop.md, "Logs").
_WIRE_ICONS = {"📍", "✅", "❌", "🔄", "📬", "🤖", "📊", "🛑", "📋", "🔻", "⚠"}
_ICON = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]")


def test_services_carry_no_display_icons() -> None:
    """Issue 16 item 3: presentation belongs to the adapters (``cli/icons.py``)."""
    found = {
        (str(path.relative_to(PKG)), icon)
        for path in (PKG / "services").rglob("*.py")
        for icon in _ICON.findall(path.read_text(encoding="utf-8"))
        if icon not in _WIRE_ICONS
    }
    assert found == set()
