"""The registry of towns, ``~/.tt/towns.toml`` (config.md §3.4), and town names (§4).

``tt init`` registers every town it creates; ``tt towns`` lists them::

    [[towns]]
    path = "/home/me/git/myapp"
    name = "myapp-main"
"""

import subprocess
from pathlib import Path
from typing import Any

import attrs

from tinytown.config._toml import converter, read_toml, structure, tt_home, write_toml_atomic
from tinytown.errors import ConfigError

REGISTRY_FILE = "towns.toml"
FALLBACK_TOWN_NAME = "tinytown"
_GIT_TIMEOUT_S = 5.0


@attrs.frozen
class TownEntry:
    """One registered town: its directory and its name."""

    path: str
    name: str


@attrs.define
class _Registry:
    towns: list[TownEntry] = attrs.field(factory=list)


def registry_path(home: Path | None = None) -> Path:
    """``~/.tt/towns.toml`` (``home`` overrides ``$HOME``)."""
    return tt_home(home) / REGISTRY_FILE


def list_towns(home: Path | None = None) -> list[TownEntry]:
    """The registered towns in file order; a missing or empty registry gives ``[]``.

    Raises:
        ConfigError: ``Invalid towns.toml: …``.
    """
    try:
        data = read_toml(registry_path(home), REGISTRY_FILE)
    except FileNotFoundError:
        return []
    return structure(data, _Registry, REGISTRY_FILE).towns


def _canonical(path: Path) -> str:
    try:
        return str(path.resolve(strict=True))
    except (OSError, RuntimeError):
        return str(path)


def register_town(path: Path, name: str, home: Path | None = None) -> Path:
    """Record a town in the registry; returns the registry's path.

    The town is recorded by its canonical path (the path as given if it
    cannot be resolved). An entry with the same path gets the new name;
    otherwise one is appended. An unreadable or invalid registry is replaced.
    """
    try:
        towns = list_towns(home)
    except ConfigError:
        towns = []
    key = _canonical(path)
    entry = TownEntry(path=key, name=name)
    for i, old in enumerate(towns):
        if old.path == key:
            towns[i] = entry
            break
    else:
        towns.append(entry)
    target = registry_path(home)
    data: dict[str, Any] = converter.unstructure(_Registry(towns))
    write_toml_atomic(target, data)
    return target


def _git(path: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=path,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    out = done.stdout.strip()
    return out if done.returncode == 0 and out else None


def default_town_name(path: Path) -> str:
    """The name ``tt init`` gives a town without ``--name`` (config.md §4).

    ``<repo>-<branch>`` inside a git repository (``/`` in the branch become
    ``-``), ``<repo>`` when the branch is unknown (no commits yet), else the
    directory's name, else ``tinytown``.
    """
    toplevel = _git(path, "rev-parse", "--show-toplevel")
    if toplevel is not None:
        repo = Path(toplevel).name
        branch = _git(path, "rev-parse", "--abbrev-ref", "HEAD")
        return f"{repo}-{branch.replace('/', '-')}" if branch else repo
    try:
        return path.resolve(strict=True).name or FALLBACK_TOWN_NAME
    except (OSError, RuntimeError):
        return FALLBACK_TOWN_NAME
