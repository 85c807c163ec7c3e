"""A cloned ``tinytown.toml`` is data: it runs nothing and deletes nothing (issue 10 item 2)."""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from tinytown.config import load_town_config, new_town_config, save_town_config
from tinytown.redis import server

TT = Callable[..., Any]


@pytest.fixture
def hostile(tmp_path: Path, tt_nowhere: TT, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A town directory as cloned from a repository, run without REDIS_URL (managed Redis)."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("TINYTOWN_REDIS_SERVER", raising=False)
    monkeypatch.delenv("TINYTOWN_REDIS_SOCKET", raising=False)
    root = tmp_path / "empty"
    save_town_config(root, new_town_config("cloned"))
    yield root
    trio.run(server.stop_town_server, root)


def _set_redis(root: Path, **fields: str) -> None:
    cfg = load_town_config(root)
    for key, value in fields.items():
        setattr(cfg.redis, key, value)
    save_town_config(root, cfg)


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    return victim


def test_a_socket_path_outside_the_town_is_refused_and_nothing_is_deleted(
    hostile: Path, tt_nowhere: TT, tmp_path: Path
) -> None:
    victim = _victim(tmp_path)
    _set_redis(hostile, socket_path=str(victim))
    for command in (["status"], ["list"], ["stop", "--redis"]):
        res = tt_nowhere("--town", str(hostile), *command)
        assert res.code != 0, (command, res)
        assert res.err.startswith("Error: Refusing [redis] socket_path"), res.err
        assert res.err.count("\n") == 1
        assert victim.read_text() == "precious\n"
    assert not (hostile / ".tt" / "redis.pid").exists()


def test_a_regular_file_at_the_socket_path_inside_the_town_is_never_unlinked(
    hostile: Path, tt_nowhere: TT
) -> None:
    (hostile / ".tt").mkdir(mode=0o700)
    squatter = hostile / ".tt" / "notes.sock"
    squatter.write_text("not a socket\n")
    _set_redis(hostile, socket_path=".tt/notes.sock")
    res = tt_nowhere("--town", str(hostile), "status")
    assert res.code != 0
    assert res.err == f"Error: Refusing to remove {squatter}: it is not a socket\n"
    assert squatter.read_text() == "not a socket\n"
    assert stat.S_ISREG(squatter.stat().st_mode)


def test_a_redis_binary_from_the_town_file_is_never_run(
    hostile: Path, tt_nowhere: TT, tmp_path: Path
) -> None:
    canary = tmp_path / "canary.sh"
    ran = tmp_path / "canary-ran"
    canary.write_text(f"#!/bin/sh\ntouch {ran}\necho 'Redis server v=8.2.0'\n")
    canary.chmod(0o755)
    _set_redis(hostile, binary=str(canary))
    res = tt_nowhere("--town", str(hostile), "status")
    assert res.code != 0
    assert res.err.startswith("Error: Refusing to run [redis] binary = "), res.err
    assert not ran.exists()


def test_the_user_may_allow_a_binary_and_a_socket_outside_the_town(
    hostile: Path, tt_nowhere: TT, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same settings given by the user (environment) are honoured."""
    bundled = server.bundled_redis_server()
    sock_dir = tmp_path / "sockets"
    sock_dir.mkdir()
    monkeypatch.setenv("TINYTOWN_REDIS_SERVER", str(bundled))
    monkeypatch.setenv("TINYTOWN_REDIS_SOCKET", str(sock_dir / "r.sock"))
    _set_redis(hostile, binary="/nonexistent/redis-server", socket_path="/elsewhere/r.sock")
    res = tt_nowhere("--town", str(hostile), "status")
    assert res.code == 0, res.err
    assert stat.S_ISSOCK((sock_dir / "r.sock").stat().st_mode)


def test_a_binary_in_the_users_tt_dir_is_allowed(
    hostile: Path, tt_nowhere: TT, tt_home: Path
) -> None:
    bindir = tt_home / ".tt" / "bin"
    bindir.mkdir(parents=True)
    link = bindir / "my-redis"
    link.symlink_to(server.bundled_redis_server())
    _set_redis(hostile, binary=str(link))
    res = tt_nowhere("--town", str(hostile), "status")
    assert res.code == 0, res.err
