"""``tt config``, ``tt towns``, ``tt bootstrap``, ``tt auth gen-key``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tinytown.config import (
    BUILTIN_PRESETS,
    new_town_config,
    register_town,
    save_town_config,
)
from tinytown.models import AgentState
from tinytown.redis import server
from tinytown.services.apikey import verify_api_key
from tinytown.services.registration import register_agent
from tinytown.town import Town

TT = Callable[..., Any]
AVAILABLE = f"Available CLIs: {', '.join(BUILTIN_PRESETS)}"


def _config_file(home: Path) -> Path:
    return home / ".tt" / "config.toml"


# --- tt config ------------------------------------------------------------------------


def test_config_shows_defaults_without_writing(tt_nowhere: TT, tt_home: Path) -> None:
    result = tt_nowhere("config")
    assert result.code == 0, result.err
    assert result.lines == [
        f"⚙️  Global config: {_config_file(tt_home)}",
        "",
        'default_cli = "claude"',
        "",
        AVAILABLE,
    ]
    assert not _config_file(tt_home).exists()


def test_config_set_get_and_list_as_the_book_shows(tt_nowhere: TT, tt_home: Path) -> None:
    result = tt_nowhere("config", "default_cli", "auggie")
    assert result.code == 0, result.err
    assert result.lines == [
        '✅ Set default_cli = "auggie"',
        f"   Saved to: {_config_file(tt_home)}",
    ]
    assert tt_nowhere("config", "default_cli").out == "auggie\n"
    assert tt_nowhere("config", "agent_clis.my-custom", "custom-ai --mode agent").code == 0
    assert tt_nowhere("config", "agent_clis.my-custom").out == "custom-ai --mode agent\n"
    assert tt_nowhere("config", "conductor_cli").out == "auggie\n"  # falls back to default_cli
    listing = tt_nowhere("config")
    assert listing.lines == [
        f"⚙️  Global config: {_config_file(tt_home)}",
        "",
        'default_cli = "auggie"',
        "",
        "[agent_clis]",
        'my-custom = "custom-ai --mode agent"',
        "",
        AVAILABLE,
    ]


def test_config_json(tt_nowhere: TT, tt_home: Path) -> None:
    assert tt_nowhere("config", "redis.password", "s3cret").code == 0
    doc = json.loads(tt_nowhere("config", "--json").out)
    assert doc["path"] == str(_config_file(tt_home))
    assert doc["default_cli"] == "claude"
    assert doc["redis"]["password"] == "****"  # never printed in the listing
    assert json.loads(tt_nowhere("config", "redis.port", "--json").out) == {
        "key": "redis.port",
        "value": "16379",
    }
    set_doc = json.loads(tt_nowhere("config", "redis.port", "7000", "--json").out)
    assert set_doc == {"key": "redis.port", "value": "7000", "path": str(_config_file(tt_home))}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["config", "nope"], 6, "Error: Unknown config key: nope"),
        (["config", "nope", "x"], 6, "Error: Unknown config key: nope"),
        (["config", "redis.password"], 6, "Error: Unknown config key: redis.password"),
        (["config", "agent_clis.ghost"], 6, "Error: Unknown config key: agent_clis.ghost"),
        (["config", "redis.port", "http"], 6, "Error: Invalid port number"),
        (["config", "redis.port", "70000"], 6, "Error: Invalid port number"),
        (["config", "redis.use_central", "yes"], 6, "Error: Invalid boolean value"),
        (["config", "default_cli", "  "], 6, "Error: Value for default_cli must not be empty"),
        (["config", "a", "b", "c"], 2, "Error:"),
        (["config", "--bogus"], 2, "Error: Unknown option"),
    ],
)
def test_config_bad_input_changes_nothing(
    tt_nowhere: TT, tt_home: Path, args: list[str], code: int, message: str
) -> None:
    assert tt_nowhere("config", "default_cli", "codex").code == 0
    before = _config_file(tt_home).read_bytes()
    result = tt_nowhere(*args)
    assert (result.code, result.out) == (code, "")
    assert result.err.startswith(message)
    assert result.err.count("\n") == 1
    assert _config_file(tt_home).read_bytes() == before


def test_config_with_a_broken_file(tt_nowhere: TT, tt_home: Path) -> None:
    _config_file(tt_home).parent.mkdir()
    _config_file(tt_home).write_text("default_cli = [oops\n")
    for args in (["config"], ["config", "default_cli"], ["config", "default_cli", "x"]):
        result = tt_nowhere(*args)
        assert result.code == 6
        assert result.err.startswith("Error: Invalid config.toml")
        assert result.err.count("\n") == 1
    assert _config_file(tt_home).read_text() == "default_cli = [oops\n"


# --- tt towns -------------------------------------------------------------------------


def test_towns_without_registry(tt_nowhere: TT) -> None:
    result = tt_nowhere("towns")
    assert result.code == 0, result.err
    assert result.lines == [
        "📍 No towns registered yet.",
        "   Run 'tt init' in a directory to register a town.",
    ]
    assert json.loads(tt_nowhere("towns", "--json").out) == {"towns": []}


async def _agents(root: Path, states: list[AgentState]) -> None:
    async with Town.connect(root) as town:
        for i, state in enumerate(states):
            handle = await register_agent(town, f"a{i}", "claude")
            await town.channel.set_agent_state(handle.id, state)


def test_towns_statuses(
    tt_nowhere: TT, tmp_path: Path, tt_home: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trio

    monkeypatch.delenv("REDIS_URL", raising=False)
    ok = tmp_path / "ok"
    cfg = new_town_config("ok-town")
    cfg.redis.url = redis_url
    save_town_config(ok, cfg)
    trio.run(_agents, ok, [AgentState.IDLE, AgentState.WORKING, AgentState.STOPPED])
    offline = tmp_path / "offline"  # managed, never started: listing must not start it
    save_town_config(offline, new_town_config("sleepy"))
    unreachable = tmp_path / "unreachable"
    cfg = new_town_config("far")
    cfg.redis.url = f"unix://{tmp_path}/nothing.sock"
    save_town_config(unreachable, cfg)
    bare = tmp_path / "bare"
    bare.mkdir()
    for root, name in ((ok, "ok-town"), (offline, "sleepy"), (unreachable, "far"), (bare, "bare"),
                       (tmp_path / "gone", "gone")):  # fmt: skip
        register_town(root, name, tt_home)

    result = tt_nowhere("towns")
    assert result.code == 0, result.err
    assert result.lines == [
        "🏘️  Registered Towns (5):",
        "",
        "   ok-town - [OK] 3 agents (2 active)",
        f"      📂 {ok.resolve()}",
        "",
        "   sleepy - [OFFLINE]",
        f"      📂 {offline.resolve()}",
        "",
        "   far - [OFFLINE]",
        f"      📂 {unreachable.resolve()}",
        "",
        "   bare - ⚠️  (no config)",
        f"      📂 {bare.resolve()}",
        "",
        "   gone - ❌ (path not found)",
        f"      📂 {tmp_path / 'gone'}",
        "",
    ]
    assert not server.server_running(offline)
    assert not (offline / ".tt" / "redis.pid").exists()
    doc = json.loads(tt_nowhere("towns", "--json").out)
    assert [(t["name"], t["status"], t["agents"], t["active"]) for t in doc["towns"]] == [
        ("ok-town", "ok", 3, 2),
        ("sleepy", "offline", None, None),
        ("far", "offline", None, None),
        ("bare", "no_config", None, None),
        ("gone", "path_not_found", None, None),
    ]


def test_towns_with_a_broken_registry(tt_nowhere: TT, tt_home: Path) -> None:
    (tt_home / ".tt").mkdir()
    (tt_home / ".tt" / "towns.toml").write_text("[[towns]\n")
    result = tt_nowhere("towns")
    assert (result.code, result.out) == (6, "")
    assert result.err.startswith("Error: Invalid towns.toml")
    assert result.err.count("\n") == 1
    assert tt_nowhere("towns", "extra").code == 2


# --- tt bootstrap -----------------------------------------------------------------------


def test_bootstrap_links_the_bundled_redis(tt_nowhere: TT, tt_home: Path) -> None:
    result = tt_nowhere("bootstrap")
    assert result.code == 0, result.err
    link = tt_home / ".tt" / "bin" / "redis-server"
    bundled = server.bundled_redis_server()
    assert link.resolve() == bundled.resolve()
    assert result.lines[0] == f"🚀 Bootstrapping Redis latest to {tt_home / '.tt'}"
    assert any(line.startswith("   → ") and "(bundled)" in line for line in result.lines)
    assert "✅ Redis installed successfully!" in result.lines
    assert f"   Location: {link} -> {bundled.resolve()}" in result.lines
    assert result.lines[-1] == "   Run: tt init"


def test_bootstrap_accepts_the_old_cli_flags(tt_nowhere: TT, tt_home: Path) -> None:
    for flag in ("--cli", "-c", "--model", "-m"):
        result = tt_nowhere("bootstrap", "8", flag, "claude")
        assert result.code == 0, result.err
        assert "   (--cli claude is not needed: no AI CLI is involved)" in result.lines


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["bootstrap", "9.9"], 3, "Error: No usable Redis 9.9 (8.0+) found here"),
        (["bootstrap", "7"], 3, "Error: No usable Redis 7 (8.0+) found here"),
        (["bootstrap", "eight"], 6, "Error: Invalid Redis version: 'eight'"),
        (["bootstrap", "--cli"], 2, "Error:"),
        (["bootstrap", "8", "9"], 2, "Error:"),
    ],
)
def test_bootstrap_bad_input_changes_nothing(
    tt_nowhere: TT, tt_home: Path, args: list[str], code: int, message: str
) -> None:
    result = tt_nowhere(*args)
    assert result.code == code, result
    assert result.err.startswith(message), result.err
    assert result.err.count("\n") == 1
    assert not (tt_home / ".tt" / "bin").exists()


# --- tt auth gen-key ------------------------------------------------------------------


def test_auth_gen_key(tt_nowhere: TT) -> None:
    result = tt_nowhere("auth", "gen-key")
    assert result.code == 0, result.err
    lines = result.lines
    key, hashed = lines[3], lines[6]
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert re.fullmatch(r"\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}",
                        hashed), hashed
    assert verify_api_key(key, hashed)
    assert not verify_api_key("wrong-key", hashed)
    assert lines == [
        "🔐 Generated new API key",
        "",
        "API Key (store securely, shown only once):",
        key,
        "",
        "API Key Hash (add to tinytown.toml):",
        hashed,
        "",
        "Add to your tinytown.toml:",
        "",
        "  [townhall.auth]",
        '  mode = "api_key"',
        f'  api_key_hash = "{hashed}"',
        "",
        "Then use the API key with townhall:",
        f"  curl -H 'Authorization: Bearer {key[:8]}...' http://localhost:8080/v1/status",
    ]
    assert tt_nowhere("auth", "gen-key").lines[3] != key


@pytest.mark.parametrize(
    ("args", "code"),
    [(["auth", "gen-key", "extra"], 2), (["auth", "nope"], 2), (["auth", "gen-key", "--x"], 2)],
)
def test_auth_bad_input(tt_nowhere: TT, args: list[str], code: int) -> None:
    result = tt_nowhere(*args)
    assert (result.code, result.out) == (code, "")
    assert result.err.startswith("Error:")
    assert result.err.count("\n") == 1


def test_installed_tt_auth_gen_key_writes_an_argon2id_hash_0_10_reads(tt_proc: TT) -> None:
    from argon2 import PasswordHasher

    result = tt_proc("auth", "gen-key")
    assert result.code == 0, result.err
    key, hashed = result.lines[3], result.lines[6]
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), hashed
    # A plain argon2 verifier (what 0.10's townhall does) accepts it: parameters are embedded.
    assert PasswordHasher().verify(hashed, key)
