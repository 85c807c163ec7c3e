"""Startup rules (townhall.md §1.2, §8) and the 408 timeout layer."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from tests.townhall.conftest import answer_lifespan
from tinytown.config.town import TownhallAuth, TownhallConfig, TownhallMtls, TownhallTls
from tinytown.townhall.middleware import Timeout
from tinytown.townhall.safety import StartupError, check_startup, parse_bind
from tinytown.townhall.server import serve_asgi


def cfg(mode: str = "none", **kw: Any) -> TownhallConfig:
    return TownhallConfig(auth=TownhallAuth(mode=mode, jwks_url="http://x/jwks"), **kw)


def test_bind_parsing() -> None:
    assert parse_bind("127.0.0.1", 8080).hypercorn == "127.0.0.1:8080"
    assert parse_bind("::1", 0).hypercorn == "[::1]:0"
    assert parse_bind("[::1]", 1).hypercorn == "[::1]:1"
    assert parse_bind("unix:/tmp/th.sock", 0).hypercorn == "unix:/tmp/th.sock"
    for bad in ("example.com", "unix:", "1.2.3"):
        with pytest.raises(StartupError):
            parse_bind(bad, 80)
    with pytest.raises(StartupError):
        parse_bind("127.0.0.1", 70000)


def test_loopback_and_auth_rules(tmp_path: Path) -> None:
    local = parse_bind("127.0.0.5", 1)
    public = parse_bind("0.0.0.0", 1)
    assert check_startup(cfg(), local, tmp_path) == []
    assert check_startup(cfg(), parse_bind("unix:/x", 0), tmp_path) == []
    assert check_startup(cfg(), parse_bind("[::ffff:127.0.0.1]", 1), tmp_path) == []  # mapped
    with pytest.raises(StartupError, match="non-loopback"):
        check_startup(cfg(), parse_bind("::ffff:10.0.0.1", 1), tmp_path)
    with pytest.raises(StartupError, match=re.escape("address 0.0.0.0:1 with auth.mode=none")):
        check_startup(cfg(), public, tmp_path)
    (warning,) = check_startup(cfg("api_key"), public, tmp_path)
    assert "Consider using OIDC" in warning
    assert check_startup(cfg("oidc"), public, tmp_path) == []
    with pytest.raises(StartupError, match="needs jwks_url"):
        check_startup(TownhallConfig(auth=TownhallAuth(mode="oidc")), local, tmp_path)


@pytest.mark.parametrize(
    ("tls", "mtls", "message"),
    [
        (TownhallTls(enabled=True), TownhallMtls(),
         "TLS configuration error: TLS enabled but cert_file is not configured"),
        (TownhallTls(enabled=True, cert_file="c.pem"), TownhallMtls(),
         "TLS configuration error: TLS enabled but key_file is not configured"),
        (TownhallTls(enabled=True, cert_file="missing.pem", key_file="k.pem"), TownhallMtls(),
         "TLS configuration error: TLS cert_file does not exist"),
        (TownhallTls(enabled=True, cert_file="c.pem", key_file="missing.pem"), TownhallMtls(),
         "TLS configuration error: TLS key_file does not exist"),
        (TownhallTls(enabled=True, cert_file="c.pem", key_file="k.pem"),
         TownhallMtls(required=True),
         "mTLS configuration error: mTLS required but ca_file is not configured"),
        (TownhallTls(enabled=True, cert_file="c.pem", key_file="k.pem"),
         TownhallMtls(enabled=True, ca_file="missing.pem"),
         "mTLS configuration error: mTLS ca_file does not exist"),
        (TownhallTls(), TownhallMtls(enabled=True, ca_file="c.pem"),
         "mTLS configuration error: mTLS needs TLS"),
    ],
)
def test_tls_file_rules(tmp_path: Path, tls: TownhallTls, mtls: TownhallMtls,
                        message: str) -> None:
    for name in ("c.pem", "k.pem"):
        (tmp_path / name).write_text("x")
    with pytest.raises(StartupError, match=re.escape(message)):
        check_startup(TownhallConfig(tls=tls, mtls=mtls), parse_bind("127.0.0.1", 1), tmp_path)


def test_tls_files_that_exist_pass(tmp_path: Path) -> None:
    for name in ("c.pem", "k.pem"):
        (tmp_path / name).write_text("x")
    tls = TownhallTls(enabled=True, cert_file="c.pem", key_file=str(tmp_path / "k.pem"))
    assert check_startup(TownhallConfig(tls=tls), parse_bind("127.0.0.1", 1), tmp_path) == []


async def slow_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await answer_lifespan(receive, send)
        return
    await trio.sleep(float(scope["path"].strip("/") or 0))
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"done"})


async def test_request_timeout_is_408(nursery: trio.Nursery) -> None:
    stop = trio.Event()
    app = Timeout(slow_app, 0.2, exempt=["/1"])
    (url,) = await nursery.start(partial(serve_asgi, app, ["127.0.0.1:0"],
                                         shutdown_trigger=stop.wait))
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/0")).text == "done"
        r = await client.get("/5")
        assert r.status_code == 408
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 408
        assert (await client.get("/0.5", timeout=10)).status_code == 408
        assert (await client.get("/1", timeout=10)).text == "done"  # exempt (streams)
    stop.set()
