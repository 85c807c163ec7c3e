"""TOML plumbing shared by the configuration modules.

One strict cattrs converter turns parsed TOML into the attrs config classes:
unknown keys are ignored (as tinytown 0.10 does), but a value of the wrong
type is an error instead of being coerced (cattrs' default would turn
``use_socket = "no"`` into ``True``). Writes are atomic: a temporary file in
the same directory, then :func:`os.replace`.
"""

import copy
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import cattrs
import tomli_w

from tinytown.errors import ConfigError
from tinytown.files import write_atomic

T = TypeVar("T")


class _BadValue(ValueError):
    """A value of the wrong type; the message is shown to the user as is."""


def _describe(value: object) -> str:
    return f"{type(value).__name__} {value!r}"


def _structure_str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise _BadValue(f"expected a string, got {_describe(value)}")
    return value


def _structure_int(value: object, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _BadValue(f"expected an integer, got {_describe(value)}")
    return value


def _structure_float(value: object, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _BadValue(f"expected a number, got {_describe(value)}")
    return float(value)


def _structure_bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise _BadValue(f"expected true or false, got {_describe(value)}")
    return value


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(bool, _structure_bool)
    return conv


converter = _make_converter()


def _format_exception(exc: BaseException, type_: type | None) -> str:
    if isinstance(exc, KeyError):
        return "required key missing"
    if isinstance(exc, ValueError) and exc.args and isinstance(exc.args[0], str):
        return exc.args[0]  # attrs validators add the attribute and options as more args
    if isinstance(exc, AttributeError | TypeError):
        return "expected a table"
    return cattrs.v.format_exception(exc, type_)


def structure(data: Mapping[str, Any], cls: type[T], label: str) -> T:
    """Build ``cls`` from parsed TOML, naming the offending key on error.

    Args:
        data: the parsed TOML document (or a sub-table of it).
        cls: the attrs class to build.
        label: the file name used in the error, e.g. ``tinytown.toml``.

    Raises:
        ConfigError: ``Invalid <label>: <key>: <problem>``.
    """
    try:
        return converter.structure(data, cls)
    except Exception as exc:
        details = cattrs.transform_error(exc, path="$", format_exception=_format_exception)
        parts = []
        for line in details:
            # "problem @ $.redis.port" -> "redis.port: problem"
            problem, _, where = line.rpartition(" @ ")
            key = re.sub(r"\['([^']*)'\]", r".\1", where).removeprefix("$").removeprefix(".")
            parts.append(f"{key}: {problem}" if key else problem)
        raise ConfigError(f"Invalid {label}: {'; '.join(parts) or exc}") from exc


_PARSED: dict[str, tuple[tuple[int, int, int, int], dict[str, Any]]] = {}


def read_toml(path: Path, label: str) -> dict[str, Any]:
    """Parse a TOML file. ``FileNotFoundError`` propagates; bad TOML is a ConfigError.

    A file read before and unchanged since (same inode, size, mtime and ctime:
    our writes replace the file, so they change the inode) is not parsed again;
    the caller gets its own copy. The town's command server and long-lived
    processes read the same config over and over.

    Raises:
        ConfigError: ``Invalid <label>: <parser message>`` (also for unreadable files).
        FileNotFoundError: the file does not exist.
    """
    try:
        with path.open("rb") as fh:
            st = os.fstat(fh.fileno())
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            key = os.path.abspath(path)
            cached = _PARSED.get(key)
            if cached is not None and cached[0] == stamp:
                return copy.deepcopy(cached[1])
            data = tomllib.load(fh)
            _PARSED[key] = (stamp, copy.deepcopy(data))
            return data
    except FileNotFoundError:
        raise
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Invalid {label}: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Invalid {label}: cannot read {path}: {exc}") from exc


def prune(value: Any) -> Any:
    """Drop ``None`` values (TOML cannot represent them) and empty ``env`` tables."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if item is None or (key == "env" and item == {}):
                continue
            out[key] = prune(item)
        return out
    if isinstance(value, list):
        return [prune(item) for item in value if item is not None]
    return value


def write_toml_atomic(path: Path, data: Mapping[str, Any], *, mode: int = 0o644) -> None:
    """Write ``data`` as TOML to ``path`` atomically (temp file + ``os.replace``).

    The parent directory is created if needed. An existing file keeps its
    permissions; a new one gets ``mode``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        pass
    write_atomic(path, tomli_w.dumps(prune(dict(data))), mode)


def tt_home(home: Path | None = None) -> Path:
    """The user's ``~/.tt`` directory; ``home`` overrides ``$HOME`` (tests pass a tmp dir)."""
    if home is None:
        env_home = os.environ.get("HOME", "")
        home = Path(env_home) if env_home else Path.home()
    return home / ".tt"
