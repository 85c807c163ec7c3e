"""Townhall API keys: generate a key, hash it for ``tinytown.toml``, verify it.

The raw key is 64 lowercase hex characters (two random UUIDv4 in simple
form, as tinytown 0.10 makes them). Its hash goes into
``[townhall.auth] api_key_hash`` as an Argon2id PHC string with 0.10's
parameters (townhall.md §6.4): ``$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>``,
a 16-byte salt and a 32-byte digest, so a town can be served by either tool.

:func:`verify_api_key` checks any Argon2 PHC string with the parameters
embedded in it, and also the ``$sha256$<salt>$<digest>`` hashes an earlier
version of this tool wrote (read only: they are never written any more).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from typing import Final

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

ARGON2_TIME_COST: Final = 2
ARGON2_MEMORY_KIB: Final = 19456
ARGON2_PARALLELISM: Final = 1
ARGON2_HASH_LEN: Final = 32
ARGON2_SALT_LEN: Final = 16
ARGON2_PREFIX: Final = "$argon2"
LEGACY_SHA256_PREFIX: Final = "$sha256$"

_HASHER: Final = PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_KIB,
    parallelism=ARGON2_PARALLELISM,
    hash_len=ARGON2_HASH_LEN,
    salt_len=ARGON2_SALT_LEN,
    type=Type.ID,
)


def generate_api_key() -> str:
    """A new raw key: two UUIDv4 in 32-hex form, concatenated (64 hex characters)."""
    return uuid.uuid4().hex + uuid.uuid4().hex


def hash_api_key(key: str) -> str:
    """The Argon2id PHC string of ``key`` to store in ``api_key_hash`` (0.10's parameters)."""
    return _HASHER.hash(key)


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _verify_legacy_sha256(key: str, stored: str) -> bool:
    try:
        salt_text, digest_text = stored[len(LEGACY_SHA256_PREFIX) :].split("$")
        salt, digest = _unb64(salt_text), _unb64(digest_text)
    except ValueError:
        return False
    return hmac.compare_digest(hashlib.sha256(salt + key.encode()).digest(), digest)


def verify_api_key(key: str, stored: str) -> bool:
    """Whether ``key`` matches ``stored`` (constant-time comparison; never raises)."""
    if stored.startswith(ARGON2_PREFIX):
        try:
            return _HASHER.verify(stored, key)
        except (VerificationError, InvalidHashError):
            return False
    if stored.startswith(LEGACY_SHA256_PREFIX):
        return _verify_legacy_sha256(key, stored)
    return False
