"""A town's own Redis on TCP starts only with a password, kept out of the town file (item 5)."""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_py
import trio

from tinytown.config import load_town_config, new_town_config, save_town_config
from tinytown.redis import server

TT = Callable[..., Any]


@pytest.fixture
def tcp_town(
    tmp_path: Path, tt_nowhere: TT, free_port: int, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("TINYTOWN_REDIS_NO_AUTH", raising=False)
    root = tmp_path / "empty"
    cfg = new_town_config("tcp-town")
    cfg.redis.use_socket = False
    cfg.redis.port = free_port
    save_town_config(root, cfg)
    yield root
    trio.run(server.stop_town_server, root)


def test_a_tcp_town_gets_a_generated_password_outside_the_town_file(
    tcp_town: Path, tt_nowhere: TT, tt_home: Path, free_port: int
) -> None:
    res = tt_nowhere("--town", str(tcp_town), "status")
    assert res.code == 0, res.err
    assert "password" not in (tcp_town / "tinytown.toml").read_text()
    assert load_town_config(tcp_town).redis.password is None
    (secret,) = (tt_home / ".tt" / "secrets").iterdir()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    anonymous = redis_py.Redis(port=free_port)
    with pytest.raises(redis_py.AuthenticationError):
        anonymous.keys("*")
    anonymous.close()
    authed = redis_py.Redis(port=free_port, password=secret.read_text().strip())
    assert authed.ping()
    authed.close()
    again = tt_nowhere("--town", str(tcp_town), "status")  # the same password next time
    assert again.code == 0, again.err


def test_the_user_may_opt_out_of_tcp_auth(
    tcp_town: Path, tt_nowhere: TT, free_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINYTOWN_REDIS_NO_AUTH", "1")
    res = tt_nowhere("--town", str(tcp_town), "status")
    assert res.code == 0, res.err
    anonymous = redis_py.Redis(port=free_port)
    assert anonymous.ping()
    anonymous.close()


def test_a_remote_server_without_password_or_tls_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tinytown.config import redis_target
    from tinytown.town_redis import secure_target

    cfg = new_town_config("remote")
    for url, warned in (("redis://192.0.2.1:6379", True), ("rediss://192.0.2.1:6379", False),
                        ("redis://:pw@192.0.2.1:6379", False), ("redis://127.0.0.1:6379", False)):
        caplog.clear()
        target = redis_target(cfg, tmp_path, {"REDIS_URL": url})  # TEST-NET: never reached
        secure_target(target, cfg, tmp_path, {})
        assert ("has no password and no TLS" in caplog.text) == warned, url
