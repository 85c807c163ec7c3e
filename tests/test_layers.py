"""Imports point one way only (ARCHITECTURE.md "Layers")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "tinytown"

# Lower number = lower layer. A module may import only its own layer or lower ones.
LAYER = {
    "errors": 0,
    "models": 1,
    "codec": 2,
    "keys": 2,
    "config": 3,
    "redis": 3,
    "scripts": 4,
    "store": 4,
    "channel": 4,
    "events": 4,
    "town": 5,
    "services": 6,
    "runtime": 7,
    "conductor": 7,
    "mission": 6,
    "cli": 8,
    "townhall": 8,
    "mcp": 8,
}


def _layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "tinytown" or len(parts) < 2:
        return None
    return LAYER.get(parts[1])


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if p.name != "__init__.py" or p.parent != PKG)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_imports_point_down(path: Path) -> None:
    rel = path.relative_to(PKG)
    own = LAYER.get(rel.parts[0].removesuffix(".py"))
    assert own is not None, f"{rel} is in no layer: add it to LAYER"
    # config reaches into redis.server lazily for socket paths: same layer, allowed.
    bad = [m for m in _imports(path) if (lay := _layer_of(m)) is not None and lay > own]
    assert not bad, f"{rel} (layer {own}) imports higher layers: {bad}"


def test_models_import_only_errors() -> None:
    for path in (PKG / "models").rglob("*.py"):
        for module in _imports(path):
            if module.startswith("tinytown"):
                assert module.startswith(("tinytown.models", "tinytown.errors")), (path, module)
