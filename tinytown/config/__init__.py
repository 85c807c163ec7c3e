"""Configuration: ``tinytown.toml``, ``~/.tt/config.toml``, ``~/.tt/towns.toml``.

* :mod:`~tinytown.config.town` — the town file and its tables;
* :mod:`~tinytown.config.presets` — model CLI presets and CLI name resolution;
* :mod:`~tinytown.config.global_` — the user's global config and ``tt config`` keys;
* :mod:`~tinytown.config.registry` — the town registry and default town names;
* :mod:`~tinytown.config.target` — the Redis connection target of a town.

Importing this package imports neither Trio nor any Redis client.
"""

from tinytown.config._toml import tt_home
from tinytown.config.global_ import (
    GlobalConfig,
    GlobalRedisConfig,
    config_get,
    config_set,
    global_config_path,
    load_global_config,
    save_global_config,
)
from tinytown.config.presets import (
    BUILTIN_PRESETS,
    DEFAULT_CLI,
    DEMO_PRESET_NAME,
    LEGACY_COMMANDS,
    CliPreset,
    effective_presets,
    normalize_legacy,
    resolve_cli_name,
)
from tinytown.config.registry import (
    TownEntry,
    default_town_name,
    list_towns,
    register_town,
    registry_path,
)
from tinytown.config.target import RedisTarget, is_loopback, redis_target
from tinytown.config.town import (
    CONFIG_FILE,
    AgentSettings,
    RedisConfig,
    TownConfig,
    TownhallAuth,
    TownhallConfig,
    TownhallMtls,
    TownhallTls,
    load_town_config,
    new_town_config,
    save_town_config,
    town_config_from_dict,
    town_config_path,
    town_config_to_dict,
)
from tinytown.redis.url import redact_url

__all__ = [
    "BUILTIN_PRESETS",
    "CONFIG_FILE",
    "DEFAULT_CLI",
    "DEMO_PRESET_NAME",
    "LEGACY_COMMANDS",
    "AgentSettings",
    "CliPreset",
    "GlobalConfig",
    "GlobalRedisConfig",
    "RedisConfig",
    "RedisTarget",
    "TownConfig",
    "TownEntry",
    "TownhallAuth",
    "TownhallConfig",
    "TownhallMtls",
    "TownhallTls",
    "config_get",
    "config_set",
    "default_town_name",
    "effective_presets",
    "global_config_path",
    "is_loopback",
    "list_towns",
    "load_global_config",
    "load_town_config",
    "new_town_config",
    "normalize_legacy",
    "redact_url",
    "redis_target",
    "register_town",
    "registry_path",
    "resolve_cli_name",
    "save_global_config",
    "save_town_config",
    "town_config_from_dict",
    "town_config_path",
    "town_config_to_dict",
    "tt_home",
]
