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
    config_get,
    config_set,
    global_config_path,
    load_global_config,
    save_global_config,
)
from tinytown.config.presets import (
    BUILTIN_PRESETS,
    DEMO_PRESET_NAME,
    CliPreset,
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
    TownConfig,
    TownhallAuth,
    load_town_config,
    new_town_config,
    save_town_config,
    town_config_path,
)
from tinytown.redis.url import redact_url

__all__ = [
    "BUILTIN_PRESETS",
    "DEMO_PRESET_NAME",
    "CliPreset",
    "GlobalConfig",
    "RedisTarget",
    "TownConfig",
    "TownEntry",
    "TownhallAuth",
    "config_get",
    "config_set",
    "default_town_name",
    "global_config_path",
    "is_loopback",
    "list_towns",
    "load_global_config",
    "load_town_config",
    "new_town_config",
    "redact_url",
    "redis_target",
    "register_town",
    "registry_path",
    "save_global_config",
    "save_town_config",
    "town_config_path",
    "tt_home",
]
