"""What every actor of one runtime shares: the town, the host identity, settings, config."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from tinytown.config import TownConfig, load_town_config, town_config_path
from tinytown.errors import TinytownError
from tinytown.runtime.containment import runtime_env
from tinytown.runtime.settings import RuntimeSettings, ShutdownMode
from tinytown.town import Town

log = logging.getLogger("tinytown.runtime")


@attrs.define
class RuntimeContext:
    """What every actor of one runtime shares.

    Attributes:
        town: the connected town (its client is shared by all actors).
        host: this runtime's identity (written to each hosted agent's ``host``).
        settings: timings and limits.
        env: the base environment of model processes.
        echo: where a foreground runtime prints agent log lines.
        shutdown_mode: what a shutdown does to agents (see :class:`ShutdownMode`).
        shutting_down: set before the runtime cancels its actors.
    """

    town: Town
    host: str
    settings: RuntimeSettings = attrs.field(factory=RuntimeSettings)
    env: Mapping[str, str] = attrs.field(factory=lambda: runtime_env(os.environ))
    echo: Callable[[str], None] | None = None
    shutdown_mode: ShutdownMode = ShutdownMode.SUSPEND
    shutting_down: bool = False
    python: str = sys.executable
    _config: TownConfig | None = None
    _config_mtime: int = -1

    @property
    def root(self) -> Path:
        return self.town.root

    def config(self) -> TownConfig:
        """The town config, re-read when ``tinytown.toml`` changed (new presets apply at once)."""
        path = town_config_path(self.root)
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return self._config or self.town.config
        if self._config is None or mtime != self._config_mtime:
            try:
                self._config = load_town_config(self.root)
                self._config_mtime = mtime
            except TinytownError as exc:
                log.warning("keeping the previous config: %s", exc)
                return self._config or self.town.config
        return self._config
