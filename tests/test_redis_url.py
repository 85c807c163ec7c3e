"""Redis URL parsing and redaction (pure, no server)."""

import pytest

from tinytown.errors import ConfigError
from tinytown.redis.url import ConnectionSettings, parse_url, redact_url

S = ConnectionSettings


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://localhost", S(host="localhost")),
        ("redis://", S()),
        ("redis://127.0.0.1:6380", S(port=6380)),
        ("redis://h:1/3", S(host="h", port=1, db=3)),
        ("redis://h/", S(host="h")),
        ("redis://:secret@h:7000", S(host="h", port=7000, password="secret")),
        ("redis://alice:s3cr%40t@h", S(host="h", username="alice", password="s3cr@t")),
        ("redis://alice@h", S(host="h", username="alice")),
        ("redis://:@h", S(host="h")),
        ("redis://[::1]:6390/2", S(host="::1", port=6390, db=2)),
        ("redis://h?db=4&connect_timeout=0.5", S(host="h", db=4, connect_timeout_s=0.5)),
        ("  redis://h:1  ", S(host="h", port=1)),
        ("REDIS://h", S(host="h")),
        ("rediss://h:6380/0", S(host="h", port=6380, tls=True)),
        (
            "rediss://u:p@h?tls_ca_cert=/ca.pem&ssl_certfile=/c.pem&tls_key=/k.pem",
            S(
                host="h",
                username="u",
                password="p",
                tls=True,
                tls_ca_cert="/ca.pem",
                tls_cert="/c.pem",
                tls_key="/k.pem",
            ),
        ),
        ("unix:///tmp/r.sock", S(unix_path="/tmp/r.sock")),
        ("unix:///tmp/r.sock?db=2&password=pw", S(unix_path="/tmp/r.sock", db=2, password="pw")),
        ("unix://bob:pw@/tmp/r.sock", S(unix_path="/tmp/r.sock", username="bob", password="pw")),
        ("unix:///tmp/with%20space.sock", S(unix_path="/tmp/with space.sock")),
    ],
)
def test_parse_url(url: str, expected: ConnectionSettings) -> None:
    assert parse_url(url) == expected


def test_parse_url_expands_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/tt")
    assert parse_url("unix://~/.tt/redis.sock").unix_path == "/home/tt/.tt/redis.sock"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "expected redis://"),
        ("localhost:6379", "expected redis://"),
        ("http://h", "expected redis://"),
        ("redis:/h", "expected redis://"),
        ("redis://h:notaport", "Invalid Redis URL"),
        ("redis://h:99999", "Invalid Redis URL"),
        ("redis://h/abc", "database number must be an integer"),
        ("redis://h/-1", "must not be negative"),
        ("redis://h?db=x", "db must be an integer"),
        ("redis://h?nope=1", "unsupported parameter 'nope'"),
        ("redis://h?connect_timeout=0", "connect_timeout must be positive"),
        ("redis://h?connect_timeout=soon", "connect_timeout must be a number"),
        ("redis://h?tls_ca_cert=/ca.pem", "TLS parameters need rediss://"),
        ("unix://", "missing socket path"),
        ("redis://h#frag", "unexpected #fragment"),
    ],
)
def test_parse_url_rejects_garbage(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_url(url)


def test_parse_error_never_shows_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        parse_url("redis://user:hunter2@h:bad")
    assert "hunter2" not in str(info.value)
    assert "user:****@h:bad" in str(info.value)


@pytest.mark.parametrize(
    ("settings", "shown"),
    [
        (S(), "redis://127.0.0.1:6379"),
        (S(host="h", port=7, db=2), "redis://h:7/2"),
        (S(password="pw"), "redis://:****@127.0.0.1:6379"),
        (S(username="a b", password="pw", tls=True), "rediss://a%20b:****@127.0.0.1:6379"),
        (S(username="alice"), "redis://alice@127.0.0.1:6379"),
        (S(host="::1"), "redis://[::1]:6379"),
        (S(unix_path="/x/r.sock"), "unix:///x/r.sock"),
        (S(unix_path="/x/r.sock", db=3, password="pw"), "unix:///x/r.sock?db=3&password=****"),
    ],
)
def test_redacted(settings: ConnectionSettings, shown: str) -> None:
    assert settings.redacted() == shown
    assert "pw" not in shown.replace("password", "")


@pytest.mark.parametrize(
    "settings",
    [
        S(host="h", port=7, db=2, username="u", tls=True),
        S(unix_path="/x/r.sock", db=3),
        S(host="::1", port=1),
    ],
)
def test_redacted_round_trips_without_password(settings: ConnectionSettings) -> None:
    assert parse_url(settings.redacted()) == settings


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://h:1", "redis://h:1"),
        ("redis://:pw@h:1/0", "redis://:****@h:1/0"),
        ("rediss://user%40name:p:w@h:6380/0", "rediss://user%40name:****@h:6380/0"),
        ("redis://default:x@", "redis://default:****@"),
        ("redis://u@h", "redis://u@h"),
        ("unix:///s.sock?db=1&password=pw", "unix:///s.sock?db=1&password=****"),
        ("not a url", "not a url"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_settings_validation() -> None:
    with pytest.raises(ConfigError):
        S(connect_timeout_s=0)
    with pytest.raises(ConfigError):
        S(db=-1)
    assert "pw" not in repr(S(password="pw"))
