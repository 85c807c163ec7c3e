"""Townhall API keys: generate a key, hash it for ``tinytown.toml``, verify it.

The raw key is 64 lowercase hex characters (two random UUIDv4 in simple
form, as tinytown 0.10 makes them). Its hash goes into
``[townhall.auth] api_key_hash``:

* ``$argon2id$v=19$m=19456,t=2,p=1$…`` (townhall.md §7, 0.10's format) when
  ``argon2-cffi`` is installed;
* otherwise ``$sha256$<salt>$<digest>`` (base64, no padding): a salted
  SHA-256. The key carries 256 random bits, so a fast hash is as safe as a
  slow one here, and verifying it costs nothing per request.

:func:`verify_api_key` accepts both forms (Argon2 only with ``argon2-cffi``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid

ARGON2_PARAMS = {"time_cost": 2, "memory_cost": 19456, "parallelism": 1, "hash_len": 32}
SALT_BYTES = 16
SHA256_PREFIX = "$sha256$"
ARGON2_PREFIX = "$argon2"


def generate_api_key() -> str:
    """A new raw key: two UUIDv4 in 32-hex form, concatenated (64 hex characters)."""
    return uuid.uuid4().hex + uuid.uuid4().hex


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _sha256(key: str, salt: bytes) -> bytes:
    return hashlib.sha256(salt + key.encode()).digest()


def argon2_available() -> bool:
    """Whether ``argon2-cffi`` is installed (Argon2id hashes can be made and checked)."""
    try:
        import argon2  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return True


def hash_api_key(key: str, *, scheme: str | None = None) -> str:
    """The PHC-style hash of ``key`` to store in ``api_key_hash``.

    Args:
        key: the raw key.
        scheme: ``"argon2id"`` or ``"sha256"``; default Argon2id when available.

    Raises:
        ValueError: an unknown scheme, or Argon2id asked without ``argon2-cffi``.
    """
    chosen = scheme or ("argon2id" if argon2_available() else "sha256")
    if chosen == "sha256":
        salt = secrets.token_bytes(SALT_BYTES)
        return f"{SHA256_PREFIX}{_b64(salt)}${_b64(_sha256(key, salt))}"
    if chosen == "argon2id":
        if not argon2_available():
            raise ValueError("Argon2id needs the argon2-cffi package")
        from argon2 import PasswordHasher

        return str(PasswordHasher(**ARGON2_PARAMS).hash(key))
    raise ValueError(f"Unknown hash scheme: {chosen}")


def verify_api_key(key: str, stored: str) -> bool:
    """Whether ``key`` matches ``stored`` (constant-time comparison; never raises)."""
    if stored.startswith(SHA256_PREFIX):
        try:
            salt_text, digest_text = stored[len(SHA256_PREFIX) :].split("$")
            salt, digest = _unb64(salt_text), _unb64(digest_text)
        except ValueError:
            return False
        return hmac.compare_digest(_sha256(key, salt), digest)
    if stored.startswith(ARGON2_PREFIX) and argon2_available():
        from argon2 import PasswordHasher
        from argon2.exceptions import (  # type: ignore[import-not-found]
            InvalidHashError,
            VerificationError,
        )

        try:
            return bool(PasswordHasher().verify(stored, key))
        except (VerificationError, InvalidHashError):
            return False
    return False
