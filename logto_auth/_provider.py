"""Internal: may change in any release.

The provider's metadata and keys, and its userinfo, revocation and introspection
endpoints (the calls the SDK does not make).

Discovery and JWKS documents are cached in this process and in Django's cache (so that
other processes start warm), which makes a steady-state sign-in cost one provider call:
the token request. Keys are refetched when a token names a ``kid`` we have not seen,
at most once per ``KEY_REFETCH_INTERVAL`` per process, so that forged ``kid`` values
cost neither provider calls nor shared-cache reads. Userinfo, revocation and
introspection go through ``fetch_json`` too (``_http.py``): one timeout, one error
mapping, and the process's keep-alive connections, which the SDK's token requests share.

Everything here is synchronous: call it from sync code (or through ``sync_to_async``).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from logto_auth._http import fetch_json
from logto_auth.conf import logto_settings
from logto_auth.exceptions import InvalidToken, LogtoError, ProviderError

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)


CACHE_TTL = 3600
KEY_REFETCH_INTERVAL = 10.0

# Asymmetric algorithms only, each with the key type (and curve) that may sign with it.
KEY_TYPES: dict[str, tuple[str, str | None]] = {
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
    "EdDSA": ("OKP", None),
}


@dataclass
class _Cached:
    value: dict[str, Any]
    expires_at: float


@dataclass
class ProviderCache:
    """Discovery document and JWKS of one issuer, shared by every request of the process."""

    issuer: str
    discovery_url: str
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _entries: dict[str, _Cached] = field(default_factory=dict)
    _last_refetch: float = -KEY_REFETCH_INTERVAL
    # Keys ready for PyJWT by (kid, alg), for the key set object they were built from:
    # building one from its JWK costs about as much as a tenth of a signature check.
    _prepared: tuple[object, dict[tuple[str, str], Any]] = (None, {})

    def _cache_key(self, kind: str) -> str:
        digest = hashlib.sha256(self.issuer.encode()).hexdigest()[:16]
        return f"logto_auth:{kind}:{digest}"

    def _get(
        self, kind: str, fetch: Callable[[], dict[str, Any]], *, force: bool = False
    ) -> dict[str, Any]:
        entry = self._entries.get(kind)
        if not force and entry and entry.expires_at > time.time():
            return entry.value
        with self._lock:
            entry = self._entries.get(kind)
            if not force and entry and entry.expires_at > time.time():
                return entry.value
            entry = None if force else self._shared(kind)
            if entry is None:
                entry = self.share(kind, fetch())
            self._entries[kind] = entry
            return entry.value

    def _shared(self, kind: str) -> _Cached | None:
        """Return the entry another process left in Django's cache, with its own expiry."""
        found = cache.get(self._cache_key(kind))
        if not isinstance(found, dict) or not isinstance(found.get("value"), dict):
            return None
        # A document keeps the lifetime it got when it was fetched, whoever reads it.
        expires_at = found.get("fetched_at", 0) + CACHE_TTL
        return _Cached(found["value"], expires_at) if expires_at > time.time() else None

    def share(self, kind: str, value: dict[str, Any]) -> _Cached:
        """Put a freshly fetched document into Django's cache; return its entry."""
        now = time.time()
        cache.set(self._cache_key(kind), {"value": value, "fetched_at": now}, CACHE_TTL)
        return _Cached(value, now + CACHE_TTL)

    def metadata(self) -> dict[str, Any]:
        """Return the discovery document, checked against the configured issuer."""
        return self._get("metadata", lambda: self._check_metadata(fetch_json(self.discovery_url)))

    def _check_metadata(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ProviderError(_("The sign-in service sent an invalid discovery document."))
        if value.get("issuer") != self.issuer:
            # OpenID Connect Discovery 1.0 section 4.3: the issuer must match exactly.
            logger.error("Discovery issuer %r is not %r", value.get("issuer"), self.issuer)
            raise ProviderError(_("The sign-in service's issuer does not match LOGTO['ENDPOINT']."))
        required = ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint")
        missing = [name for name in required if not isinstance(value.get(name), str)]
        if missing:
            raise ProviderError(
                _("The discovery document lacks %(fields)s."), fields=", ".join(missing)
            )
        return value

    def _jwks(self, *, force: bool = False) -> dict[str, Any]:
        def fetch() -> dict[str, Any]:
            value = fetch_json(self.metadata()["jwks_uri"])
            if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
                raise ProviderError(_("The sign-in service sent an invalid key set."))
            return value

        return self._get("jwks", fetch, force=force)

    def signing_algorithms(self) -> list[str]:
        advertised = self.metadata().get("id_token_signing_alg_values_supported") or []
        return [alg for alg in advertised if alg in KEY_TYPES]

    def key(self, kid: str) -> dict[str, Any] | None:
        """Return the JWK named ``kid``, refetching the JWKS once if it is unknown."""
        found = _by_kid(self._jwks()).get(kid)
        if found is not None:
            return found
        with self._lock:
            found = _by_kid(self._jwks()).get(kid)
            if found is not None:
                return found
            if time.monotonic() - self._last_refetch < KEY_REFETCH_INTERVAL:
                # Forged kids are free: no shared-cache read, no provider call, no log line.
                logger.debug("Unknown kid %r; the key set was looked up too recently", kid)
                return None
            self._last_refetch = time.monotonic()
            # Another process may have fetched the rotated key set already.
            shared = self._shared("jwks")
            if shared is not None and kid in _by_kid(shared.value):
                self._entries["jwks"] = shared
                return _by_kid(shared.value)[kid]
            logger.info("Unknown kid %r; refetching the key set", kid)
            return _by_kid(self._jwks(force=True)).get(kid)

    def verification_key(self, kid: str, alg: str) -> Any:
        """Return the key named ``kid``, checked to fit ``alg``, ready for PyJWT.

        Raise ``InvalidToken`` when there is no such key or it does not fit ``alg``.
        """
        jwks = self._jwks()
        built_from, prepared = self._prepared
        if built_from is not jwks:
            prepared = {}
            self._prepared = (jwks, prepared)
        found = prepared.get((kid, alg))
        if found is not None:
            return found
        jwk = self.key(kid)
        if jwk is None:
            raise InvalidToken(_("The token is signed with an unknown key."))
        kty, crv = KEY_TYPES[alg]
        if jwk.get("kty") != kty or (crv and jwk.get("crv") != crv) or jwk.get("alg", alg) != alg:
            raise InvalidToken(_("The token's algorithm does not fit its key."))
        if jwk.get("use", "sig") != "sig":
            raise InvalidToken(_("The token's key is not a signing key."))
        try:
            key = jwt.PyJWK(jwk, algorithm=alg).key
        except jwt.PyJWTError as error:
            raise InvalidToken(_("The token's key is unusable.")) from error
        current = self._entries.get("jwks")
        # Keep it only if the key set was not refetched meanwhile (rotation).
        if current is not None and self._prepared[0] is current.value:
            self._prepared[1][(kid, alg)] = key
        return key

    def forget(self) -> None:
        """Drop everything cached for this issuer, here and in Django's cache."""
        with self._lock:
            self._entries.clear()
            self._prepared = (None, {})
            self._last_refetch = -KEY_REFETCH_INTERVAL
            cache.delete_many([self._cache_key("metadata"), self._cache_key("jwks")])


def _by_kid(jwks: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        key["kid"]: key
        for key in jwks.get("keys", [])
        if isinstance(key, dict) and isinstance(key.get("kid"), str)
    }


_providers: dict[str, ProviderCache] = {}
_providers_lock = threading.Lock()


def provider() -> ProviderCache:
    """Return the shared cache for the configured issuer."""
    issuer = logto_settings.issuer
    found = _providers.get(issuer)
    if found is None:
        with _providers_lock:
            found = _providers.setdefault(
                issuer, ProviderCache(issuer, logto_settings.discovery_url)
            )
    return found


@sensitive_variables()
def user_info(access_token: str, sub: str) -> dict[str, Any]:
    """Fetch the userinfo endpoint with an (opaque) access token of the user ``sub``."""
    endpoint = provider().metadata()["userinfo_endpoint"]
    info = fetch_json(endpoint, headers={"Authorization": f"Bearer {access_token}"})
    if not isinstance(info, dict) or info.get("sub") != sub:
        raise ProviderError(_("The sign-in service sent userinfo for another user."))
    return info


@sensitive_variables()
def revoke(refresh_token: str) -> None:
    """Revoke ``refresh_token`` at the provider; a failure is logged, never raised."""
    try:
        endpoint = provider().metadata().get("revocation_endpoint")
        if isinstance(endpoint, str):
            data = {"token": refresh_token, "token_type_hint": "refresh_token"}
            fetch_json(endpoint, data=data, headers=client_auth(), expect_json=False)
    except LogtoError as error:
        logger.warning("Could not revoke the refresh token at sign-out: %s", error)


@sensitive_variables()
def refresh_token_is_active(refresh_token: str) -> bool:
    """Ask the introspection endpoint whether ``refresh_token`` is still honoured."""
    endpoint = provider().metadata().get("introspection_endpoint")
    if not isinstance(endpoint, str):
        raise ProviderError(_("The sign-in service has no introspection endpoint."))
    data = {"token": refresh_token, "token_type_hint": "refresh_token"}
    answer = fetch_json(endpoint, data=data, headers=client_auth())
    return isinstance(answer, dict) and answer.get("active") is True


@sensitive_variables()
def client_auth() -> dict[str, str]:
    """The ``Authorization`` header of client_secret_basic (RFC 6749 section 2.3.1)."""
    pair = ":".join(
        urllib.parse.quote(v, safe="") for v in (logto_settings.app_id, logto_settings.app_secret)
    )
    return {"Authorization": f"Basic {base64.b64encode(pair.encode()).decode()}"}
