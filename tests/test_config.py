"""Pure tests of tinytown.config: town file, presets, global config, registry, Redis target."""

import os
import stat
import subprocess
from pathlib import Path

import pytest
import tomli_w

from tinytown.config import (
    BUILTIN_PRESETS,
    CliPreset,
    GlobalConfig,
    RedisTarget,
    TownConfig,
    config_get,
    config_set,
    default_town_name,
    global_config_path,
    is_loopback,
    list_towns,
    load_global_config,
    load_town_config,
    new_town_config,
    redact_url,
    redis_target,
    register_town,
    registry_path,
    save_global_config,
    save_town_config,
)
from tinytown.errors import ConfigError, InvalidInputError, NotInitializedError
from tinytown.redis.server import SUN_PATH_MAX, recorded_socket_path

CODEX_MINI = (
    "codex exec --dangerously-bypass-approvals-and-sandbox -m gpt-5.4-mini"
    ' -c model_reasoning_effort="medium"'
)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def write(root: Path, text: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "tinytown.toml").write_text(text)


# --- tinytown.toml -------------------------------------------------------------------


def test_missing_file_names_the_root_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotInitializedError) as info:
        load_town_config(Path("nowhere"))
    assert info.value.path == "nowhere"
    assert str(info.value) == "Town not initialized at nowhere. Run 'tt init' first."


def test_missing_file_in_the_current_directory_reads_as_in_the_book() -> None:
    error = NotInitializedError(".")
    assert str(error) == "Town not initialized at . Run 'tt init' first."


def test_defaults_apply_and_unknown_keys_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, 'name = "t"\nfuture_key = 1\n[redis]\nport = 7000\nwhatever = "x"\n')
    cfg = load_town_config(tmp_path)
    assert cfg.name == "t"
    assert cfg.default_cli == "claude"
    assert cfg.conductor_cli is None
    assert cfg.max_agents == 10
    assert (cfg.use_central_redis, cfg.use_streams) == (False, False)
    assert cfg.redis.use_socket is True
    assert cfg.redis.socket_path == ".tt/redis.sock"
    assert cfg.redis.port == 7000
    assert cfg.redis.binary is None
    assert (cfg.agent.idle_timeout_secs, cfg.agent.idle_timeout_s) == (None, 0)  # never by default
    assert cfg.townhall.rest_port == 8080
    assert cfg.townhall.request_timeout_ms == 30000
    assert cfg.townhall.auth.mode == "none"
    assert cfg.townhall.auth.clock_skew_seconds == 60
    assert cfg.townhall.mtls.required is False
    assert cfg.agent_clis == {}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('name = "t"\n[redis]\nport = "abc"\n', "redis.port"),
        ('name = "t"\n[redis]\nuse_socket = "no"\n', "redis.use_socket"),
        ('name = "t"\n[redis]\nport = 70000\n', "port"),
        ("name = 5\n", "name"),
        ('name = ""\n', "'name' must not be empty"),
        ('name = "  "\n', "'name' must not be empty"),
        ('default_cli = "claude"\n', "name"),
        ('name = "t"\nredis = 3\n', "redis"),
        ('name = "t"\n[agent]\nidle_timeout_secs = true\n', "agent.idle_timeout_secs"),
        ('name = "t"\n[townhall.auth]\nmode = "magic"\n', "mode"),
        ('name = "t"\n[townhall.auth]\napi_key_scopes = ["root"]\n', "api_key_scopes"),
        ('name = "t"\n[agent_clis.x]\nname = "x"\n', "command"),
        ('name = "t"\n[agent_clis.x]\ncommand = "x"\nprompt_mode = "tty"\n', "prompt_mode"),
        ('name = "t"\n[agent_clis.x]\ncommand = "x"\nenv = { A = 1 }\n', "env"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_town_config(tmp_path)
    message = str(info.value)
    assert message.startswith("Invalid tinytown.toml: ")
    assert key in message
    assert "\n" not in message


def test_invalid_toml(tmp_path: Path) -> None:
    write(tmp_path, "name = \n")
    with pytest.raises(ConfigError, match=r"^Invalid tinytown.toml: "):
        load_town_config(tmp_path)


def test_legacy_cli_commands_are_normalised(tmp_path: Path) -> None:
    write(
        tmp_path,
        'name = "t"\ndefault_cli = "  codex exec --dangerously-bypass-approvals-and-sandbox "\n'
        "conductor_cli = 'aider --yes --no-auto-commits --message'\n",
    )
    cfg = load_town_config(tmp_path)
    assert (cfg.default_cli, cfg.conductor_cli) == ("codex", "aider")
    write(tmp_path, f"name = 't'\ndefault_cli = '{CODEX_MINI}'\n")
    assert load_town_config(tmp_path).default_cli == "codex-mini"


def test_preset_tables(tmp_path: Path) -> None:
    write(
        tmp_path,
        """name = "t"
[agent_clis.mine]
command = "my-agent --go"
workdir = "/srv"
prompt_mode = "file"
timeout_secs = 90
[agent_clis.mine.env]
API_KEY = "k"
[agent_clis.claude]
name = "claude"
command = "claude --print"
""",
    )
    cfg = load_town_config(tmp_path)
    mine = cfg.agent_clis["mine"]
    assert mine == CliPreset("mine", "my-agent --go", "/srv", {"API_KEY": "k"}, "file", 90.0)
    assert cfg.preset("claude") == CliPreset("claude", "claude --print")
    assert cfg.preset("gemini") == BUILTIN_PRESETS["gemini"]  # built-ins always there
    assert cfg.resolve_cli_command("mine") == "my-agent --go"


def test_save_load_round_trip(tmp_path: Path) -> None:
    cfg = new_town_config("round-trip")
    cfg.redis.binary = "/opt/redis/bin/redis-server"
    cfg.agent_clis["x"] = CliPreset("x", "x-cli", env={"A": "b"}, timeout_secs=5)
    root = tmp_path / "town"
    save_town_config(root, cfg)
    assert load_town_config(root) == cfg
    assert [p.name for p in root.iterdir()] == ["tinytown.toml"]  # no temp file left
    assert stat.S_IMODE((root / "tinytown.toml").stat().st_mode) == 0o644
    text = (root / "tinytown.toml").read_text()
    assert text.startswith('name = "round-trip"')  # plain keys before tables
    assert "password" not in text


def test_new_town_uses_its_own_socket_and_merges_global_presets() -> None:
    glob = GlobalConfig(
        default_cli="claude --print --dangerously-skip-permissions",
        conductor_cli="codex",
        agent_clis={"my-custom": "custom-ai --mode agent", "gemini": "gemini --yolo"},
    )
    glob.redis.use_central = True
    glob.redis.password = "tt_secret"
    cfg = new_town_config("myapp-main", glob)
    assert cfg.redis.use_socket is True
    assert cfg.use_central_redis is False
    assert cfg.redis.password is None
    assert cfg.default_cli == "claude"
    assert cfg.conductor_cli == "codex"
    assert set(BUILTIN_PRESETS) <= set(cfg.agent_clis)
    assert cfg.agent_clis["my-custom"] == CliPreset("my-custom", "custom-ai --mode agent")
    assert cfg.agent_clis["gemini"].command == "gemini --yolo"
    assert new_town_config("x").default_cli == "claude"


def test_builtin_presets() -> None:
    assert list(BUILTIN_PRESETS) == [
        "claude", "auggie", "codex", "codex-mini", "aider", "gemini", "copilot", "cursor", "demo",
    ]  # fmt: skip
    assert BUILTIN_PRESETS["codex-mini"].command == CODEX_MINI
    assert BUILTIN_PRESETS["demo"].command == "python -m tinytown.runtime.demo_model"


@pytest.mark.parametrize(
    ("ref", "name", "command"),
    [
        ("", "claude", "claude --print --dangerously-skip-permissions"),
        ("  auggie ", "auggie", "auggie --print"),
        ("claude --print --dangerously-skip-permissions", "claude", None),
        ("claude --model opus", "claude", "claude --print --dangerously-skip-permissions"),
        ("gh copilot suggest", "copilot", "gh copilot"),
        ("gh pr list", "gh pr list", "gh pr list"),
        ("codex --full-auto", "codex", None),
        ("codex -m gpt-5.4-mini", "codex-mini", CODEX_MINI),
        ("mytool --flag", "mytool --flag", "mytool --flag"),
        ("demo", "demo", "python -m tinytown.runtime.demo_model"),
        ("team", "team", "team-cli"),
        ("team-cli", "team", "team-cli"),
    ],
)
def test_cli_resolution(ref: str, name: str, command: str | None) -> None:
    cfg = TownConfig(name="t", agent_clis={"team": CliPreset("team", "team-cli")})
    assert cfg.resolve_cli_name(ref) == name
    expected = command or BUILTIN_PRESETS[name].command
    assert cfg.resolve_cli_command(ref) == expected


def test_town_command_shadowing_a_builtin_resolves_to_the_town_preset() -> None:
    cmd = BUILTIN_PRESETS["claude"].command
    cfg = TownConfig(name="t", agent_clis={"mine": CliPreset("mine", cmd)})
    assert cfg.resolve_cli_name(cmd) == "mine"


def test_conductor_cli_name() -> None:
    cfg = TownConfig(name="t", default_cli="auggie")
    assert cfg.conductor_cli_name() == "auggie"
    cfg.conductor_cli = "  "
    assert cfg.conductor_cli_name() == "auggie"
    cfg.conductor_cli = "codex"
    assert cfg.conductor_cli_name() == "codex"


# --- ~/.tt/config.toml -------------------------------------------------------------------


def test_global_config_defaults_and_home(home: Path) -> None:
    assert global_config_path() == home / ".tt" / "config.toml"
    cfg = load_global_config()
    assert cfg == GlobalConfig()
    assert (cfg.redis.host, cfg.redis.port, cfg.redis.use_central) == ("127.0.0.1", 16379, False)
    assert not (home / ".tt").exists()  # loading writes nothing


def test_global_config_parse_and_legacy(home: Path) -> None:
    (home / ".tt").mkdir()
    (home / ".tt" / "config.toml").write_text(
        'default_cli = "auggie --print"\n[agent_clis]\nmy-custom = "custom-ai --mode agent"\n'
        '[redis]\nport = 16380\npassword = "pw"\nuse_central = true\n'
    )
    cfg = load_global_config()
    assert cfg.default_cli == "auggie"
    assert cfg.agent_clis == {"my-custom": "custom-ai --mode agent"}
    assert (cfg.redis.port, cfg.redis.password, cfg.redis.use_central) == (16380, "pw", True)
    (home / ".tt" / "config.toml").write_text("[agent_clis]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"^Invalid config.toml: agent_clis"):
        load_global_config()


def test_global_config_save_is_private(home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-home"
    path = save_global_config(config_set(GlobalConfig(), "redis.password", "pw"), home=other)
    assert path == other / ".tt" / "config.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_global_config(other).redis.password == "pw"
    assert not (home / ".tt").exists()


def test_config_get_and_set() -> None:
    cfg = GlobalConfig()
    assert config_get(cfg, "default_cli") == "claude"
    assert config_get(cfg, "conductor_cli") == "claude"
    cfg = config_set(cfg, "conductor_cli", "codex")
    assert config_get(cfg, "conductor_cli") == "codex"
    cfg = config_set(cfg, "redis.port", "6380")
    assert config_get(cfg, "redis.port") == "6380"
    cfg = config_set(cfg, "redis.use_central", "true")
    assert config_get(cfg, "redis.use_central") == "true"
    cfg = config_set(cfg, "redis.host", "10.0.0.1")
    assert config_get(cfg, "redis.host") == "10.0.0.1"
    cfg = config_set(cfg, "agent_clis.my-ai", "my-ai-cli --flag")
    assert config_get(cfg, "agent_clis.my-ai") == "my-ai-cli --flag"
    assert GlobalConfig().agent_clis == {}  # set returns a copy


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("redis.port", "abc", "Invalid port number"),
        ("redis.port", "70000", "Invalid port number"),
        ("redis.use_central", "yes", "Invalid boolean value"),
        ("redis.use_central", "True", "Invalid boolean value"),
        ("colour", "red", "Unknown config key: colour"),
        ("agent_clis.", "x", "Unknown config key: agent_clis."),
    ],
)
def test_config_set_errors(key: str, value: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        config_set(GlobalConfig(), key, value)
    assert str(info.value) == message


@pytest.mark.parametrize("key", ["redis.password", "agent_clis.none", "colour"])
def test_config_get_unknown(key: str) -> None:
    with pytest.raises(InvalidInputError, match=f"^Unknown config key: {key}$"):
        config_get(GlobalConfig(), key)


# --- ~/.tt/towns.toml ---------------------------------------------------------------------


def test_registry(home: Path, tmp_path: Path) -> None:
    assert list_towns() == []
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    register_town(a, "alpha")
    register_town(tmp_path / "missing", "ghost")
    register_town(a / ".." / "a", "alpha-2")  # same canonical path: renamed
    towns = list_towns()
    assert [(t.path, t.name) for t in towns] == [
        (str(a.resolve()), "alpha-2"),
        (str(b.parent / "missing"), "ghost"),
    ]
    assert registry_path() == home / ".tt" / "towns.toml"


@pytest.mark.parametrize("text", ["", "towns = []\n"])
def test_empty_registries(home: Path, text: str) -> None:
    (home / ".tt").mkdir()
    (home / ".tt" / "towns.toml").write_text(text)
    assert list_towns() == []


def test_invalid_registry(home: Path, tmp_path: Path) -> None:
    (home / ".tt").mkdir()
    (home / ".tt" / "towns.toml").write_text("[[towns]]\npath = 3\n")
    with pytest.raises(ConfigError, match=r"^Invalid towns.toml: "):
        list_towns()
    register_town(tmp_path, "fresh")  # an invalid registry is replaced
    assert [t.name for t in list_towns()] == ["fresh"]


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    env |= {
        f"GIT_{who}_{what}": "t" for who in ("AUTHOR", "COMMITTER") for what in ("NAME", "EMAIL")
    }
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def test_default_town_name(tmp_path: Path) -> None:
    repo = tmp_path / "redisearch"
    repo.mkdir()
    assert default_town_name(repo) == "redisearch"  # not a repository
    _git(repo, "init", "-q", "-b", "main")
    assert default_town_name(repo) == "redisearch"  # no commits: no branch
    _git(repo, "commit", "-q", "--allow-empty", "-m", "x")
    _git(repo, "checkout", "-q", "-b", "feature/auth")
    (repo / "sub").mkdir()
    assert default_town_name(repo / "sub") == "redisearch-feature-auth"
    assert default_town_name(tmp_path / "does-not-exist") == "tinytown"


# --- Redis target -------------------------------------------------------------------------


def test_default_target_is_the_town_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = new_town_config("t")
    target = redis_target(cfg, Path("town"), {})
    sock = tmp_path / "town" / ".tt" / "redis.sock"
    assert target == RedisTarget(
        mode="town_socket", url=f"unix://{sock}", redacted=f"unix://{sock}", managed=True,
        socket_path=sock,
    )  # fmt: skip


def test_explicit_urls_win(tmp_path: Path) -> None:
    cfg = new_town_config("t")
    cfg.redis.url = "redis://default:pw@cfg-host:6379/0"
    target = redis_target(cfg, tmp_path, {"REDIS_URL": "  "})
    assert (target.mode, target.url, target.managed) == ("url", cfg.redis.url, False)
    assert target.redacted == "redis://default:****@cfg-host:6379/0"
    target = redis_target(cfg, tmp_path, {"REDIS_URL": "unix:///run/r.sock"})
    assert (target.url, target.socket_path) == ("unix:///run/r.sock", None)


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("rediss://user%40name:secret@h:6380/0", "rediss://user%40name:****@h:6380/0"),
        ("redis://:pw@host", "redis://:****@host"),
        ("redis://default:p@ss@host:1?db=0", "redis://default:****@host:1?db=0"),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("redis://justuser@host", "redis://justuser@host"),
        ("redis://h/0?x=1&password=secret", "redis://h/0?x=1&password=****"),
        ("not a url", "not a url"),
    ],
)
def test_redaction(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_tcp_targets(tmp_path: Path) -> None:
    cfg = new_town_config("t")
    cfg.redis.use_socket = False
    cfg.redis.password = "pw"
    cfg.redis.port = 6380
    target = redis_target(cfg, tmp_path, {})
    assert (target.mode, target.managed, target.password) == ("town_tcp", True, "pw")
    assert target.url == "redis://:pw@127.0.0.1:6380"
    assert target.redacted == "redis://:****@127.0.0.1:6380"
    assert target.socket_path == tmp_path / ".tt" / "redis.sock"  # control socket

    target = redis_target(cfg, tmp_path, {"TINYTOWN_REDIS_PASSWORD": "a/b@c"})
    assert target.url == "redis://:a%2Fb%40c@127.0.0.1:6380"
    target = redis_target(cfg, tmp_path, {"TINYTOWN_REDIS_PASSWORD": ""})
    assert (target.url, target.redacted) == ("redis://127.0.0.1:6380",) * 2

    cfg.use_central_redis = True  # made by tinytown 0.10: its central server is not ours
    target = redis_target(cfg, tmp_path, {})
    assert (target.mode, target.managed, target.socket_path) == ("town_tcp", False, None)

    cfg.redis.host, cfg.redis.tls_enabled = "redis.example.com", True
    target = redis_target(cfg, tmp_path, {})
    assert (target.mode, target.managed) == ("remote_tcp", False)
    assert target.redacted == "rediss://:****@redis.example.com:6380"

    cfg.redis.host, cfg.redis.tls_enabled, cfg.redis.password = "::1", False, None
    target = redis_target(cfg, tmp_path, {})
    assert (target.mode, target.url) == ("town_tcp", "redis://[::1]:6380")


@pytest.mark.parametrize(
    ("host", "local"),
    [  # the cases where the text rule (config) and the ipaddress rule (townhall) disagreed
        ("127.example.com", False),
        ("127.0.0.1.nip.io", False),
        ("0:0:0:0:0:0:0:1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("[::ffff:127.9.9.9]", True),
        ("LocalHost", True),
        # and the plain ones
        ("127.0.0.1", True),
        ("127.255.0.3", True),
        ("localhost", True),
        ("::1", True),
        ("::ffff:10.0.0.1", False),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("redis.example.com", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, local: bool) -> None:
    assert is_loopback(host) is local


def test_a_name_that_starts_with_127_is_remote(tmp_path: Path) -> None:
    cfg = new_town_config("t")
    cfg.redis.use_socket, cfg.redis.host = False, "127.example.com"
    assert redis_target(cfg, tmp_path, {}).mode == "remote_tcp"
    cfg.redis.host = "0:0:0:0:0:0:0:1"
    assert redis_target(cfg, tmp_path, {}).mode == "town_tcp"


def test_socket_target_ignores_a_password(tmp_path: Path) -> None:
    cfg = new_town_config("t")
    cfg.redis.password = "pw"
    target = redis_target(cfg, tmp_path, {"TINYTOWN_REDIS_PASSWORD": "x"})
    assert (target.password, target.url) == (None, f"unix://{tmp_path}/.tt/redis.sock")


def test_long_socket_path_falls_back_and_is_recorded(tmp_path: Path) -> None:
    root = tmp_path / ("deep-" * 25)
    root.mkdir()
    target = redis_target(new_town_config("t"), root, {})
    assert target.socket_path is not None
    assert len(str(root / ".tt" / "redis.sock")) > SUN_PATH_MAX
    assert target.socket_path.parent == Path(f"/tmp/tt-{os.getuid()}")
    assert stat.S_IMODE(target.socket_path.parent.stat().st_mode) == 0o700
    assert len(str(target.socket_path)) <= SUN_PATH_MAX
    assert recorded_socket_path(root) == target.socket_path
    assert redis_target(new_town_config("t"), root, {}) == target  # stable
    short = tmp_path / "short"
    short.mkdir()
    assert redis_target(new_town_config("t"), short, {}).socket_path == recorded_socket_path(short)
    assert not (short / ".tt" / "redis.sockpath").exists()


def test_toml_writer_round_trips_presets(tmp_path: Path) -> None:
    data = {"name": "t", "agent_clis": {"x": {"command": "x-cli"}}}
    (tmp_path / "tinytown.toml").write_text(tomli_w.dumps(data))
    assert load_town_config(tmp_path).agent_clis["x"].name == "x"


def test_read_toml_sees_every_change_and_hands_out_copies(tmp_path: Path) -> None:
    from tinytown.config._toml import read_toml

    path = tmp_path / "x.toml"
    path.write_text('name = "aaa"\n')
    first = read_toml(path, "x")
    first["name"] = "mutated by the caller"
    assert read_toml(path, "x") == {"name": "aaa"}
    path.write_text('name = "bbb"\n')  # same size, same inode, rewritten in place
    assert read_toml(path, "x") == {"name": "bbb"}
    replacement = tmp_path / "y.toml"
    replacement.write_text('name = "ccc"\n')
    replacement.replace(path)  # how tt writes configs: a new file renamed over
    assert read_toml(path, "x") == {"name": "ccc"}
