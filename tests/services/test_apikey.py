"""Townhall API keys: format, hashing, verification."""

from __future__ import annotations

import re

import pytest

from tinytown.services.apikey import (
    argon2_available,
    generate_api_key,
    hash_api_key,
    verify_api_key,
)


def test_generated_keys_are_64_hex_and_unique() -> None:
    keys = {generate_api_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(re.fullmatch(r"[0-9a-f]{64}", k) for k in keys)


def test_sha256_hash_verifies_only_its_key() -> None:
    key = generate_api_key()
    stored = hash_api_key(key, scheme="sha256")
    assert stored.startswith("$sha256$")
    assert verify_api_key(key, stored)
    assert not verify_api_key("wrong-key", stored)
    assert not verify_api_key(key, hash_api_key(generate_api_key(), scheme="sha256"))
    assert stored != hash_api_key(key, scheme="sha256")  # salted


@pytest.mark.parametrize("stored", ["", "$sha256$", "$sha256$a$b$c", "$sha256$!!$??", "plain"])
def test_malformed_hashes_never_verify(stored: str) -> None:
    assert not verify_api_key("k", stored)


def test_default_scheme_follows_what_is_installed() -> None:
    stored = hash_api_key(generate_api_key())
    assert stored.startswith("$argon2id$" if argon2_available() else "$sha256$")


def test_unknown_or_unavailable_scheme() -> None:
    with pytest.raises(ValueError, match="Unknown"):
        hash_api_key("k", scheme="md5")
    if not argon2_available():
        with pytest.raises(ValueError, match="argon2-cffi"):
            hash_api_key("k", scheme="argon2id")
