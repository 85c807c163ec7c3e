"""Townhall API keys: format, Argon2id hashing with 0.10's parameters, verification."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from argon2 import Type, extract_parameters

from tinytown.services.apikey import generate_api_key, hash_api_key, verify_api_key

PHC_RE = r"\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}"


def test_generated_keys_are_64_hex_and_unique() -> None:
    keys = {generate_api_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(re.fullmatch(r"[0-9a-f]{64}", k) for k in keys)


def test_hashes_are_argon2id_phc_strings_with_the_parameters_of_0_10() -> None:
    key = generate_api_key()
    stored = hash_api_key(key)
    assert re.fullmatch(PHC_RE, stored), stored
    params = extract_parameters(stored)
    assert (params.type, params.version, params.memory_cost, params.time_cost,
            params.parallelism, params.hash_len, params.salt_len) == (
        Type.ID, 19, 19456, 2, 1, 32, 16)
    assert verify_api_key(key, stored)
    assert not verify_api_key("wrong-key", stored)
    assert stored != hash_api_key(key)  # salted


def test_hashes_with_other_embedded_parameters_verify_with_those_parameters() -> None:
    from argon2 import PasswordHasher

    other = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("k")
    assert verify_api_key("k", other)
    assert not verify_api_key("x", other)


def test_legacy_sha256_hashes_still_verify() -> None:
    salt = b"0123456789abcdef"
    digest = hashlib.sha256(salt + b"key").digest()
    stored = "$sha256$" + "$".join(
        base64.b64encode(part).decode().rstrip("=") for part in (salt, digest))
    assert verify_api_key("key", stored)
    assert not verify_api_key("other", stored)


@pytest.mark.parametrize(
    "stored",
    ["", "$sha256$", "$sha256$a$b$c", "$sha256$!!$??", "plain", "$argon2id$v=19$garbage",
     "$argon2id$v=19$m=19456,t=2,p=1$AAAA$BBBB"],
)
def test_malformed_hashes_never_verify(stored: str) -> None:
    assert not verify_api_key("k", stored)
