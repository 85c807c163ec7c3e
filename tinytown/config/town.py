"""The town configuration file, ``<town>/tinytown.toml`` (config.md §2).

Its presence defines a town. Loading applies the defaults of tinytown 0.10
to absent keys, ignores unknown keys, and rejects values of the wrong type
with a :class:`~tinytown.errors.ConfigError` naming the key.

Differences from 0.10, on purpose:

* the built-in CLI presets are always available (see
  :mod:`tinytown.config.presets`); the file's tables override them;
* a new town uses its own Redis on a unix socket under ``.tt/`` (the book's
  layout), never a central TCP server whose password is written into this
  file.
"""

import logging
from pathlib import Path
from typing import Any

import attrs

from tinytown.config._toml import converter, read_toml, structure, write_toml_atomic
from tinytown.config.global_ import GlobalConfig
from tinytown.config.presets import (
    BUILTIN_PRESETS,
    DEFAULT_CLI,
    CliPreset,
    effective_presets,
    normalize_legacy,
    resolve_cli_name,
)
from tinytown.errors import NotInitializedError

log = logging.getLogger("tinytown")

CONFIG_FILE = "tinytown.toml"
AUTH_MODES = ("none", "api_key", "oidc")
SCOPES = ("town.read", "town.write", "agent.manage", "admin")

_port = attrs.validators.and_(attrs.validators.ge(0), attrs.validators.le(65535))
_non_negative = attrs.validators.ge(0)


def _not_blank(_instance: object, attribute: "attrs.Attribute[str]", value: str) -> None:
    # An empty town name would put every key under "tt::".
    if not value.strip():
        raise ValueError(f"'{attribute.name}' must not be empty")


_scope_list = attrs.validators.deep_iterable(attrs.validators.in_(SCOPES))


@attrs.define
class RedisConfig:
    """``[redis]``: where the town's Redis is and how a managed one is started.

    ``binary`` is our addition: an explicit ``redis-server`` to run.
    ``persist`` (default on, unlike 0.10 where it was unused) keeps an
    append-only file (fsync every second) next to the snapshot.
    """

    url: str | None = None
    use_socket: bool = True
    socket_path: str = ".tt/redis.sock"
    host: str = "127.0.0.1"
    port: int = attrs.field(default=6379, validator=_port)
    persist: bool = True
    aof_path: str = ".tt/redis.aof"
    password: str | None = None
    tls_enabled: bool = False
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca_cert: str | None = None
    bind: str = "127.0.0.1"
    binary: str | None = None


@attrs.define
class AgentSettings:
    """``[agent]``: ``idle_timeout_secs``.

    Unset (our default, and what ``tt init`` writes) or 0: an idle agent keeps
    waiting on its inbox (an idle actor costs no model process and no
    polling). A value a user sets keeps 0.10's meaning: an agent idle that
    many seconds drains and stops. 0.10 defaulted to 300 s, which left work
    sent later waiting forever.
    """

    idle_timeout_secs: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(_non_negative)
    )

    @property
    def idle_timeout_s(self) -> int:
        """The idle timeout in force; 0: never stop for idleness."""
        return self.idle_timeout_secs or 0


@attrs.define
class TownhallAuth:
    """``[townhall.auth]``: how the REST/MCP daemon authenticates callers."""

    mode: str = attrs.field(default="none", validator=attrs.validators.in_(AUTH_MODES))
    api_key_hash: str | None = None
    api_key_scopes: list[str] = attrs.field(factory=list, validator=_scope_list)
    issuer: str | None = None
    audience: str | None = None
    jwks_url: str | None = None
    required_scopes: list[str] = attrs.field(factory=list)
    clock_skew_seconds: int = attrs.field(default=60, validator=_non_negative)


@attrs.define
class TownhallTls:
    """``[townhall.tls]``."""

    enabled: bool = False
    cert_file: str | None = None
    key_file: str | None = None


@attrs.define
class TownhallMtls:
    """``[townhall.mtls]``."""

    enabled: bool = False
    required: bool = False
    ca_file: str | None = None


@attrs.define
class TownhallConfig:
    """``[townhall]``: settings of the REST/MCP daemon (townhall.md §2)."""

    bind: str = "127.0.0.1"
    rest_port: int = attrs.field(default=8080, validator=_port)
    request_timeout_ms: int = attrs.field(default=30000, validator=_non_negative)
    # Ours: browser origins allowed besides the server's own and loopback ones ("*": any).
    cors_origins: list[str] = attrs.field(factory=list)
    auth: TownhallAuth = attrs.field(factory=TownhallAuth)
    tls: TownhallTls = attrs.field(factory=TownhallTls)
    mtls: TownhallMtls = attrs.field(factory=TownhallMtls)


@attrs.define
class TownConfig:
    """The whole ``tinytown.toml``.

    Attributes:
        name: the town name, also the Redis namespace ``tt:<name>:…``.
        default_cli: CLI reference used by ``tt spawn`` without ``--cli``.
        conductor_cli: CLI reference of ``tt conductor`` (unset or empty: ``default_cli``).
        max_agents: informational.
        use_central_redis: written by tinytown 0.10 for towns on its central server.
        use_streams: read by the townhall status endpoint only.
        redis: the ``[redis]`` table.
        agent: the ``[agent]`` table.
        agent_clis: the town's own presets; built-ins complement them.
        townhall: the ``[townhall]`` table.
    """

    name: str = attrs.field(validator=_not_blank)
    default_cli: str = DEFAULT_CLI
    conductor_cli: str | None = None
    max_agents: int = attrs.field(default=10, validator=_non_negative)
    use_central_redis: bool = False
    use_streams: bool = False
    redis: RedisConfig = attrs.field(factory=RedisConfig)
    agent: AgentSettings = attrs.field(factory=AgentSettings)
    agent_clis: dict[str, CliPreset] = attrs.field(factory=dict)
    townhall: TownhallConfig = attrs.field(factory=TownhallConfig)

    def presets(self) -> dict[str, CliPreset]:
        """The town's presets followed by the built-ins it does not override."""
        return effective_presets(self.agent_clis)

    def resolve_cli_name(self, ref: str) -> str:
        """The preset name for a CLI reference (config.md §2.4)."""
        return resolve_cli_name(ref, self.presets())

    def preset(self, ref: str) -> CliPreset | None:
        """The preset a CLI reference names, from the town table then the built-ins."""
        name = self.resolve_cli_name(ref)
        return self.agent_clis.get(name) or BUILTIN_PRESETS.get(name)

    def resolve_cli_command(self, ref: str) -> str:
        """The command to run for a CLI reference: its preset's, else the trimmed reference."""
        preset = self.preset(ref)
        return preset.command if preset is not None else ref.strip()

    def conductor_cli_name(self) -> str:
        """The CLI reference of the conductor: ``conductor_cli`` if set, else ``default_cli``."""
        if self.conductor_cli is not None and self.conductor_cli.strip():
            return self.conductor_cli
        return self.default_cli


def town_config_path(root: Path) -> Path:
    """``<root>/tinytown.toml``."""
    return root / CONFIG_FILE


def _fill_preset_names(data: dict[str, Any]) -> None:
    # A table [agent_clis.foo] without ``name`` is named after its key (0.10 rejects it).
    clis = data.get("agent_clis")
    if isinstance(clis, dict):
        for key, table in clis.items():
            if isinstance(table, dict) and "name" not in table:
                table["name"] = key


def town_config_from_dict(data: dict[str, Any]) -> TownConfig:
    """Build a :class:`TownConfig` from parsed TOML (defaults, legacy normalisation).

    Raises:
        ConfigError: a value has the wrong type or a required key is missing.
    """
    _fill_preset_names(data)
    cfg = structure(data, TownConfig, CONFIG_FILE)
    cfg.default_cli = normalize_legacy(cfg.default_cli)
    if cfg.conductor_cli is not None:
        cfg.conductor_cli = normalize_legacy(cfg.conductor_cli)
    return cfg


def town_config_to_dict(cfg: TownConfig) -> dict[str, Any]:
    """The TOML document for ``cfg`` (``None`` values are left out when written)."""
    data: dict[str, Any] = converter.unstructure(cfg)
    return data


def load_town_config(root: Path) -> TownConfig:
    """Read ``<root>/tinytown.toml``.

    Args:
        root: the town directory, kept as given (may be relative) in errors.

    Raises:
        NotInitializedError: there is no ``tinytown.toml`` in ``root``.
        ConfigError: the file is not valid TOML or has a bad value.
    """
    path = town_config_path(root)
    try:
        data = read_toml(path, CONFIG_FILE)
    except FileNotFoundError:
        raise NotInitializedError(str(root)) from None
    cfg = town_config_from_dict(data)
    if _has_secret(cfg):
        _warn_if_readable(path)
    return cfg


def _has_secret(cfg: TownConfig) -> bool:
    return bool(cfg.redis.password) or "@" in (cfg.redis.url or "")


def _warn_if_readable(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & 0o077:
        log.warning("%s holds a Redis password and is readable by other users "
                    "(mode %o): run 'chmod 600 %s'", path, mode & 0o777, path)


def save_town_config(root: Path, cfg: TownConfig) -> None:
    """Write ``cfg`` to ``<root>/tinytown.toml`` atomically (mode 0600 when it holds a secret)."""
    path = town_config_path(root)
    write_toml_atomic(path, town_config_to_dict(cfg), mode=0o600 if _has_secret(cfg) else 0o644)
    if _has_secret(cfg):
        path.chmod(0o600)


def new_town_config(name: str, global_cfg: GlobalConfig | None = None) -> TownConfig:
    """The configuration ``tt init`` writes for a new town (config.md §2.2).

    The preset table is the built-ins, then the global ``[agent_clis]``
    entries (adding or overriding). ``default_cli`` is the global one
    normalised against that table; ``conductor_cli`` is copied as is. Redis
    is always the per-town unix socket: the global ``redis.use_central``
    setting is not followed (see the module docstring).

    Args:
        name: the town name.
        global_cfg: the user's global config; ``None`` (missing or invalid) means defaults.
    """
    if global_cfg is None:
        global_cfg = GlobalConfig()
    presets = dict(BUILTIN_PRESETS)
    for cli_name, command in global_cfg.agent_clis.items():
        presets[cli_name] = CliPreset(name=cli_name, command=command)
    return TownConfig(
        name=name,
        default_cli=resolve_cli_name(global_cfg.default_cli, presets),
        conductor_cli=global_cfg.conductor_cli,
        agent_clis=presets,
    )
