"""``tt bootstrap`` choices (pure) and the ``~/.tt/bin/redis-server`` link (real files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinytown.errors import InvalidInputError, NotFoundError
from tinytown.redis import server
from tinytown.services.bootstrap import (
    Candidate,
    bootstrap,
    choose_candidate,
    find_candidates,
    link_redis_server,
    matches_version,
    parse_wanted,
)

BUNDLED = Candidate(Path("/b/redis-server"), "bundled", (8, 2, 3))
ON_PATH_NEWER = Candidate(Path("/usr/local/bin/redis-server"), "PATH", (8, 4, 0))
ON_PATH_SAME = Candidate(Path("/usr/bin/redis-server"), "PATH", (8, 2, 3))
TOO_OLD = Candidate(Path("/usr/bin/redis-server"), "PATH", (7, 0, 15), "older than 8.0")
BROKEN = Candidate(Path("/x/redis-server"), "TINYTOWN_REDIS_SERVER", None, "cannot run")


@pytest.mark.parametrize(
    ("wanted", "parsed"),
    [("latest", None), ("LATEST", None), ("8", (8,)), ("8.2", (8, 2)), ("v8.2.3", (8, 2, 3))],
)
def test_parse_wanted(wanted: str, parsed: tuple[int, ...] | None) -> None:
    assert parse_wanted(wanted) == parsed


@pytest.mark.parametrize("bad", ["", "abc", "8.x", "8.2.3.4", "-1"])
def test_parse_wanted_rejects(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="Invalid Redis version"):
        parse_wanted(bad)


def test_matches_version() -> None:
    assert matches_version((8, 2, 3), "latest")
    assert matches_version((8, 2, 3), "8")
    assert matches_version((8, 2, 3), "8.2")
    assert not matches_version((8, 2, 3), "8.4")
    assert not matches_version((8, 2, 3), "8.2.4")


def test_choose_candidate() -> None:
    assert choose_candidate([BUNDLED, ON_PATH_NEWER]) == ON_PATH_NEWER
    assert choose_candidate([ON_PATH_SAME, BUNDLED]) == BUNDLED  # a tie goes to the bundled one
    assert choose_candidate([TOO_OLD, BROKEN, BUNDLED]) == BUNDLED
    assert choose_candidate([BUNDLED, ON_PATH_NEWER], "8.2") == BUNDLED
    assert choose_candidate([TOO_OLD, BROKEN]) is None
    assert choose_candidate([BUNDLED], "9") is None
    assert choose_candidate([TOO_OLD], "7") is None  # never older than 8.0


def test_find_candidates_sees_the_bundled_server_and_rejects_old_ones(tmp_path: Path) -> None:
    old = tmp_path / "redis-server"
    old.write_text("#!/bin/sh\necho 'Redis server v=7.0.15 sha=0'\n")
    old.chmod(0o755)
    found = find_candidates({"PATH": str(tmp_path), "HOME": str(tmp_path)})
    by_source = {c.source: c for c in found}
    assert by_source["bundled"].usable
    assert by_source["bundled"].path == server.bundled_redis_server()
    assert by_source["PATH"].problem == "older than 8.0"


def test_link_replaces_a_link_and_keeps_a_real_file(tmp_path: Path) -> None:
    bindir = tmp_path / ".tt" / "bin"
    bindir.mkdir(parents=True)
    (bindir / "redis-server").write_text("hand-built")
    link = link_redis_server(BUNDLED, tmp_path)
    assert link.is_symlink()
    assert Path(link.readlink()) == BUNDLED.path
    assert (bindir / "redis-server.old").read_text() == "hand-built"
    link_redis_server(ON_PATH_NEWER, tmp_path)
    assert Path(link.readlink()) == ON_PATH_NEWER.path


def test_bootstrap_links_the_bundled_server(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    chosen, link, _ = bootstrap("latest", env=env, home=tmp_path)
    assert chosen.source == "bundled"
    assert link.resolve() == server.bundled_redis_server().resolve()
    assert server.find_redis_server(env=env) == link
    with pytest.raises(NotFoundError, match="No usable Redis 9"):
        bootstrap("9", env=env, home=tmp_path)
