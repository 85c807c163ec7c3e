"""TLS and mTLS served for real (trustme certificates) and OIDC against a loopback JWKS."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Awaitable, Callable, MutableMapping
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import trio
import trustme
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.townhall.conftest import Start, answer_lifespan
from tinytown.config.town import TownhallAuth, TownhallConfig, TownhallMtls, TownhallTls
from tinytown.town import Town
from tinytown.townhall.server import serve_asgi

ISSUER = "https://issuer.test"
AUDIENCE = "townhall"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_config(ca: trustme.CA, root: Path, *, mtls: bool = False) -> TownhallConfig:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(root / "server.pem"))
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    return TownhallConfig(
        tls=TownhallTls(enabled=True, cert_file="server.pem", key_file="server.pem"),
        mtls=TownhallMtls(enabled=mtls, required=mtls, ca_file="ca.pem" if mtls else None),
    )


def client_context(ca: trustme.CA, *, client_cert: bool = False) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    if client_cert:
        ca.issue_cert("client@test").configure_cert(ctx)
    return ctx


async def test_tls_is_served(start_townhall: Start, town: Town, ca: trustme.CA) -> None:
    th = await start_townhall(tls_config(ca, town.root), verify=client_context(ca))
    assert th.url.startswith("https://")
    assert (await th.client.get("/v1/status")).status_code == 200
    async with httpx.AsyncClient(base_url=th.url.replace("https", "http", 1)) as plain:
        with pytest.raises(httpx.HTTPError):
            await plain.get("/health")


async def test_mtls_requires_a_client_certificate(start_townhall: Start, town: Town,
                                                  ca: trustme.CA) -> None:
    th = await start_townhall(tls_config(ca, town.root, mtls=True),
                              verify=client_context(ca, client_cert=True))
    assert (await th.client.get("/v1/town")).status_code == 200
    async with httpx.AsyncClient(base_url=th.url, verify=client_context(ca)) as anonymous:
        with pytest.raises(httpx.HTTPError):
            await anonymous.get("/health")


# --- OIDC --------------------------------------------------------------------------------

Scope = MutableMapping[str, Any]


def jwks_app(public_jwk: dict[str, Any]) -> Callable[..., Awaitable[None]]:
    body = json.dumps({"keys": [public_jwk]}).encode()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
async def jwks_url(nursery: trio.Nursery, signing_key: rsa.RSAPrivateKey) -> str:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    jwk.update(kid="k1", use="sig", alg="RS256")
    stop = trio.Event()
    binds = await nursery.start(partial(serve_asgi, jwks_app(jwk), ["127.0.0.1:0"],
                                        shutdown_trigger=stop.wait))
    return f"{binds[0]}/jwks.json"


def token(key: Any, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300,
              "scope": "town.read"}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


async def test_oidc(start_townhall: Start, town: Town, jwks_url: str,
                    signing_key: rsa.RSAPrivateKey) -> None:
    auth = TownhallAuth(mode="oidc", issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_url,
                        clock_skew_seconds=30)
    th = await start_townhall(TownhallConfig(auth=auth))

    async def call(tok: str | None, method: str = "GET", path: str = "/v1/status") -> int:
        headers = {"Authorization": f"Bearer {tok}"} if tok else {}
        body = {"description": "x"} if method == "POST" else None
        return (await th.client.request(method, path, headers=headers, json=body)).status_code

    assert await call(None) == 401
    assert await call(token(signing_key)) == 200
    assert await call(token(signing_key), "POST", "/v1/backlog") == 403
    assert await call(token(signing_key, scope="town.read town:write"), "POST",
                      "/v1/backlog") == 201
    assert await call(token(signing_key, scp=["admin"], scope=None), "POST",
                      "/v1/agents/prune") == 200
    now = int(time.time())
    assert await call(token(signing_key, exp=now - 10)) == 200  # within the 30 s skew
    assert await call(token(signing_key, exp=now - 120)) == 401
    assert await call(token(signing_key, aud="someone-else")) == 401
    assert await call(token(signing_key, iss="https://evil.test")) == 401
    assert await call(token(signing_key, exp=None)) == 401
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert await call(token(other)) == 401
    assert await call("not-a-jwt") == 401


async def test_oidc_required_scopes(start_townhall: Start, jwks_url: str,
                                    signing_key: rsa.RSAPrivateKey) -> None:
    auth = TownhallAuth(mode="oidc", issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_url,
                        required_scopes=["tinytown"])
    th = await start_townhall(TownhallConfig(auth=auth))
    ok = token(signing_key, scope="tinytown town.read")
    assert (await th.client.get("/v1/town", headers={"Authorization": f"Bearer {ok}"})
            ).status_code == 200
    missing = token(signing_key, scope="town.read")
    assert (await th.client.get("/v1/town", headers={"Authorization": f"Bearer {missing}"})
            ).status_code == 401
