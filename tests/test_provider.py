"""The provider's metadata and key cache, shared through Django's cache."""

from __future__ import annotations

import logging
import time
from typing import Any

import jwt
import pytest
from django.core.cache import cache

from logto_auth._provider import CACHE_TTL, provider
from logto_auth._tokens import validate_id_token
from logto_auth.exceptions import InvalidToken
from tests.devprovider import DevProvider
from tests.forged import P384, claims


class CountingCache:
    """Django's cache, counting the reads made through it."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache
        self.reads = 0

    def get(self, *args: Any, **kwargs: Any) -> Any:
        self.reads += 1
        return self.cache.get(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cache, name)


def test_a_flood_of_unknown_kids_costs_no_cache_read_and_no_warning(
    dev_provider: DevProvider, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = dev_provider.issuer
    with pytest.raises(InvalidToken):  # the first unknown kid refetches the key set
        validate_id_token(jwt.encode(claims(iss=issuer), P384, "ES384", headers={"kid": "k-0"}))
    counting = CountingCache(cache)
    monkeypatch.setattr("logto_auth._provider.cache", counting)
    caplog.set_level(logging.DEBUG, logger="logto_auth")
    before = dev_provider.calls()

    for n in range(1, 51):
        token = jwt.encode(claims(iss=issuer), P384, "ES384", headers={"kid": f"k-{n}"})
        with pytest.raises(InvalidToken):
            validate_id_token(token)

    assert counting.reads == 0
    assert dev_provider.calls() == before
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_key_set_from_the_shared_cache_keeps_the_lifetime_it_was_fetched_with(
    dev_provider: DevProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider().forget()
    provider().metadata()
    provider()._jwks()  # fetched now, and shared
    provider()._entries.clear()  # another process: nothing in memory
    later = time.time() + CACHE_TTL - 100
    monkeypatch.setattr(time, "time", lambda: later)
    provider().metadata()
    before = dev_provider.counters().get("/oidc/jwks", 0)

    provider()._jwks()
    later += 200  # past the hour since the keys were fetched, not since they were read
    provider()._jwks()

    assert dev_provider.counters()["/oidc/jwks"] == before + 1
