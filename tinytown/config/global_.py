"""The user's global configuration, ``~/.tt/config.toml`` (config.md §3).

It matters mostly when ``tt init`` creates a town (default CLI, extra
presets); afterwards the town's ``tinytown.toml`` is authoritative.

The ``[redis]`` table of tinytown 0.10's central server is parsed and can be
read and set with ``tt config``, but tinytown never puts a new town on the
central server, and never generates or writes a password here by itself.
"""

import re
from pathlib import Path

import attrs

from tinytown.config._toml import converter as _converter
from tinytown.config._toml import read_toml, structure, tt_home, write_toml_atomic
from tinytown.config.presets import DEFAULT_CLI, normalize_legacy
from tinytown.errors import InvalidInputError

GLOBAL_CONFIG_FILE = "config.toml"

_PORT_RE = re.compile(r"\+?[0-9]+")


@attrs.define
class GlobalRedisConfig:
    """``[redis]`` of the global config: tinytown 0.10's central server.

    ``binary`` (ours) is a ``redis-server`` the user trusts for every town: a
    town file may not choose one outside ``~/.tt/`` (:mod:`tinytown.town_redis`).
    """

    host: str = "127.0.0.1"
    port: int = attrs.field(
        default=16379, validator=[attrs.validators.ge(0), attrs.validators.le(65535)]
    )
    password: str | None = None
    use_central: bool = False
    binary: str | None = None


@attrs.define
class GlobalConfig:
    """The whole ``~/.tt/config.toml``.

    Attributes:
        default_cli: default CLI copied into new towns.
        conductor_cli: conductor CLI copied into new towns.
        agent_clis: custom presets, ``name = "command"``.
        redis: the central-server table (parsed, not used for new towns).
    """

    default_cli: str = DEFAULT_CLI
    conductor_cli: str | None = None
    agent_clis: dict[str, str] = attrs.field(factory=dict)
    redis: GlobalRedisConfig = attrs.field(factory=GlobalRedisConfig)


def global_config_path(home: Path | None = None) -> Path:
    """``~/.tt/config.toml`` (``home`` overrides ``$HOME``)."""
    return tt_home(home) / GLOBAL_CONFIG_FILE


def load_global_config(home: Path | None = None) -> GlobalConfig:
    """Read the global config; a missing file gives the defaults (nothing is written).

    Legacy full commands in ``default_cli``/``conductor_cli`` are normalised
    in memory only.

    Raises:
        ConfigError: ``Invalid config.toml: …``.
    """
    try:
        data = read_toml(global_config_path(home), GLOBAL_CONFIG_FILE)
    except FileNotFoundError:
        return GlobalConfig()
    cfg = structure(data, GlobalConfig, GLOBAL_CONFIG_FILE)
    cfg.default_cli = normalize_legacy(cfg.default_cli)
    if cfg.conductor_cli is not None:
        cfg.conductor_cli = normalize_legacy(cfg.conductor_cli)
    return cfg


def save_global_config(cfg: GlobalConfig, home: Path | None = None) -> Path:
    """Write the global config atomically (creating ``~/.tt``); returns its path.

    A new file is readable by its owner only: it may hold a password.
    """
    path = global_config_path(home)
    write_toml_atomic(path, _converter.unstructure(cfg), mode=0o600)
    return path


def _unknown(key: str) -> InvalidInputError:
    return InvalidInputError(f"Unknown config key: {key}")


def _cli_key(key: str) -> str | None:
    prefix = "agent_clis."
    if key.startswith(prefix) and len(key) > len(prefix):
        return key[len(prefix) :]
    return None


def config_get(cfg: GlobalConfig, key: str) -> str:
    """The value ``tt config <key>`` prints.

    ``conductor_cli`` falls back to ``default_cli``; an unset
    ``redis.password`` or an absent ``agent_clis.<name>`` is an unknown key.

    Raises:
        InvalidInputError: ``Unknown config key: <key>``.
    """
    if key == "default_cli":
        return cfg.default_cli
    if key == "conductor_cli":
        return cfg.conductor_cli or cfg.default_cli
    if key == "redis.host":
        return cfg.redis.host
    if key == "redis.port":
        return str(cfg.redis.port)
    if key == "redis.password" and cfg.redis.password is not None:
        return cfg.redis.password
    if key == "redis.use_central":
        return "true" if cfg.redis.use_central else "false"
    name = _cli_key(key)
    if name is not None and name in cfg.agent_clis:
        return cfg.agent_clis[name]
    raise _unknown(key)


def config_set(cfg: GlobalConfig, key: str, value: str) -> GlobalConfig:
    """A copy of ``cfg`` with ``key`` set to ``value`` (``tt config <key> <value>``).

    Raises:
        InvalidInputError: ``Invalid port number``, ``Invalid boolean value`` or
            ``Unknown config key: <key>``.
    """
    redis = cfg.redis
    if key == "default_cli":
        return attrs.evolve(cfg, default_cli=value)
    if key == "conductor_cli":
        return attrs.evolve(cfg, conductor_cli=value)
    if key == "redis.host":
        return attrs.evolve(cfg, redis=attrs.evolve(redis, host=value))
    if key == "redis.port":
        if not _PORT_RE.fullmatch(value) or int(value) > 65535:
            raise InvalidInputError("Invalid port number")
        return attrs.evolve(cfg, redis=attrs.evolve(redis, port=int(value)))
    if key == "redis.password":
        return attrs.evolve(cfg, redis=attrs.evolve(redis, password=value))
    if key == "redis.use_central":
        if value not in ("true", "false"):
            raise InvalidInputError("Invalid boolean value")
        return attrs.evolve(cfg, redis=attrs.evolve(redis, use_central=value == "true"))
    name = _cli_key(key)
    if name is not None:
        return attrs.evolve(cfg, agent_clis={**cfg.agent_clis, name: value})
    raise _unknown(key)
