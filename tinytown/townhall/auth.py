"""Who is calling: the three auth modes of ``[townhall.auth]`` (townhall.md §6).

* ``none``: every caller is ``local`` with every scope.
* ``api_key``: ``Authorization: Bearer <key>`` (wins) or ``X-API-Key: <key>``
  checked against the Argon2id PHC hash of the config. Verifying costs tens
  of milliseconds, so it runs in a worker thread and a few verified keys are
  remembered (by their SHA-256, never the key itself).
* ``oidc``: a JWT validated against the JWKS at ``jwks_url`` (issuer,
  audience, expiry with ``clock_skew_seconds`` of leeway, ``required_scopes``).
  Its scopes come from the ``scope`` (space separated) or ``scp`` claim.

An empty ``api_key_scopes`` list grants every scope (0.10's rule). A
principal has scope S when it holds S or ``admin``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Final

import attrs
import trio

from tinytown.config.town import SCOPES, TownhallAuth
from tinytown.services.apikey import verify_api_key

ALL_SCOPES: Final = frozenset(SCOPES)
ADMIN: Final = "admin"
VERIFIED_CACHE_SIZE: Final = 16
# Argon2id with 0.10's parameters takes ~65 ms and 19 MiB per check: a flood of bad keys
# must queue, not take every worker thread and gigabytes of memory.
VERIFY_THREADS: Final = 2
JWT_ALGORITHMS: Final = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA")
JWKS_CACHE_S: Final = 300


@attrs.frozen
class Principal:
    """An authenticated caller: an id for the audit log and its scopes."""

    id: str
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        return scope in self.scopes or ADMIN in self.scopes


LOCAL = Principal("local", ALL_SCOPES)


class AuthError(Exception):
    """Authentication failed: 401 with a fixed, non-revealing detail."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


AUTH_REQUIRED = "Authentication required"
INVALID_CREDENTIALS = "Invalid credentials"
INSUFFICIENT = "Insufficient permissions"


def extract_key(authorization: str | None, api_key: str | None) -> str | None:
    """The API key of a request: the Bearer token, else the ``X-API-Key`` value."""
    if authorization is not None and authorization.isascii():
        if authorization.startswith("Bearer "):
            return authorization[len("Bearer ") :].strip() or None
    if api_key is not None:
        return api_key.strip() or None
    return None


def _scope_alias(scope: str) -> str:
    return scope.replace(":", ".")


class Authenticator:
    """Turns request headers into a :class:`Principal` per ``[townhall.auth]``."""

    def __init__(self, config: TownhallAuth) -> None:
        self.config = config
        self._verified: OrderedDict[bytes, None] = OrderedDict()
        self._jwks: Any = None
        self._limiter = trio.CapacityLimiter(VERIFY_THREADS)

    async def authenticate(self, authorization: str | None, api_key: str | None) -> Principal:
        """The caller's principal from its ``Authorization`` and ``X-API-Key`` headers.

        Raises:
            AuthError: no credentials, or credentials that do not verify.
        """
        if self.config.mode == "none":
            return LOCAL
        key = extract_key(authorization, api_key)
        if key is None:
            raise AuthError(AUTH_REQUIRED)
        if self.config.mode == "api_key":
            return await self._api_key(key)
        return await self._oidc(key)

    # --- api_key ---------------------------------------------------------------------

    async def _api_key(self, key: str) -> Principal:
        stored = self.config.api_key_hash
        if not stored:
            raise AuthError(AUTH_REQUIRED)
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        if digest in self._verified:
            self._verified.move_to_end(digest)
        elif await trio.to_thread.run_sync(verify_api_key, key, stored, limiter=self._limiter):
            self._verified[digest] = None
            while len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        else:
            raise AuthError(INVALID_CREDENTIALS)
        scopes = frozenset(self.config.api_key_scopes) or ALL_SCOPES
        return Principal("api_key", scopes)

    # --- oidc ------------------------------------------------------------------------

    def _jwks_client(self) -> Any:
        import jwt

        if self._jwks is None:
            if not self.config.jwks_url:
                raise AuthError(AUTH_REQUIRED)
            self._jwks = jwt.PyJWKClient(
                self.config.jwks_url, cache_keys=True, lifespan=JWKS_CACHE_S, timeout=5
            )
        return self._jwks

    async def _oidc(self, token: str) -> Principal:
        claims = await trio.to_thread.run_sync(self._decode, token, limiter=self._limiter)
        granted = _token_scopes(claims)
        missing = [s for s in self.config.required_scopes if _scope_alias(s) not in granted]
        if missing:
            raise AuthError(INVALID_CREDENTIALS)
        subject = claims.get("sub")
        return Principal(
            f"oidc:{subject}" if isinstance(subject, str) else "oidc",
            frozenset(granted & ALL_SCOPES),
        )

    def _decode(self, token: str) -> dict[str, Any]:
        import jwt

        try:
            key = self._jwks_client().get_signing_key_from_jwt(token).key
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(JWT_ALGORITHMS),
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=self.config.clock_skew_seconds,
                options={
                    "require": ["exp"],
                    "verify_aud": self.config.audience is not None,
                    "verify_iss": self.config.issuer is not None,
                },
            )
        except jwt.PyJWTError:
            raise AuthError(INVALID_CREDENTIALS) from None
        return claims


def _token_scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    raw = claims.get("scope", claims.get("scp", ""))
    items = raw.split() if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return frozenset(_scope_alias(s) for s in items if isinstance(s, str))
