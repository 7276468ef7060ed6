"""Provider metadata, signing keys and strict JWT validation.

Discovery and JWKS documents are cached in this process and in Django's cache (so that
other processes start warm), which makes a steady-state sign-in cost one provider call:
the token request. Keys are refetched when a token names a ``kid`` we have not seen,
at most once per ``KEY_REFETCH_INTERVAL`` so that forged ``kid`` values cannot make us
hammer the provider.

Everything here is synchronous: call it from sync code (or through ``sync_to_async``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt
from django.core.cache import cache
from jwt.utils import base64url_decode

from logto_auth.conf import logto_settings
from logto_auth.exceptions import InvalidToken, ProviderError, ProviderUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable, Container

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
FORBIDDEN_HEADERS = ("crit", "jwk", "jku", "x5u", "x5c")
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def fetch_json(
    url: str,
    *,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    expect_json: bool = True,
) -> Any:
    """GET (or POST ``data``) ``url`` within the configured timeout and return its JSON.

    With ``expect_json=False`` the body is ignored and ``None`` returned.
    """
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ProviderError(f"Refusing to fetch a non-HTTP URL: {url}")
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    all_headers = {"Accept": "application/json", **(headers or {})}
    request = urllib.request.Request(url, data=body, headers=all_headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=logto_settings.timeout) as response:  # noqa: S310
            body = response.read()
        return json.loads(body) if expect_json else None
    except urllib.error.HTTPError as error:
        logger.warning("Provider answered %s for %s", error.code, url)
        raise ProviderError(f"The sign-in service answered HTTP {error.code}.") from error
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        logger.warning("Provider unreachable at %s: %s", url, error)
        raise ProviderUnavailable("The sign-in service could not be reached.") from error
    except ValueError as error:
        logger.warning("Provider sent invalid JSON from %s", url)
        raise ProviderError("The sign-in service sent an invalid document.") from error


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
        if not force and entry and entry.expires_at > time.monotonic():
            return entry.value
        with self._lock:
            entry = self._entries.get(kind)
            if not force and entry and entry.expires_at > time.monotonic():
                return entry.value
            value = None if force else cache.get(self._cache_key(kind))
            if not isinstance(value, dict):
                value = fetch()
                cache.set(self._cache_key(kind), value, CACHE_TTL)
            self._entries[kind] = _Cached(value, time.monotonic() + CACHE_TTL)
            return value

    def metadata(self) -> dict[str, Any]:
        """Return the discovery document, checked against the configured issuer."""
        return self._get("metadata", lambda: self._check_metadata(fetch_json(self.discovery_url)))

    def _check_metadata(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ProviderError("The sign-in service sent an invalid discovery document.")
        if value.get("issuer") != self.issuer:
            # OpenID Connect Discovery 1.0 section 4.3: the issuer must match exactly.
            logger.error("Discovery issuer %r is not %r", value.get("issuer"), self.issuer)
            raise ProviderError("The sign-in service's issuer does not match LOGTO['ENDPOINT'].")
        required = ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint")
        missing = [name for name in required if not isinstance(value.get(name), str)]
        if missing:
            raise ProviderError(f"The discovery document lacks {', '.join(missing)}.")
        return value

    def _jwks(self, *, force: bool = False) -> dict[str, Any]:
        def fetch() -> dict[str, Any]:
            value = fetch_json(self.metadata()["jwks_uri"])
            if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
                raise ProviderError("The sign-in service sent an invalid key set.")
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
            # Another thread, or another process through Django's cache, may have the
            # rotated key set already.
            found = _by_kid(self._jwks()).get(kid)
            shared = cache.get(self._cache_key("jwks"))
            if found is None and isinstance(shared, dict) and kid in _by_kid(shared):
                self._entries["jwks"] = _Cached(shared, time.monotonic() + CACHE_TTL)
                found = _by_kid(shared)[kid]
            if found is not None:
                return found
            if time.monotonic() - self._last_refetch < KEY_REFETCH_INTERVAL:
                logger.warning("Unknown kid %r; the key set was refetched too recently", kid)
                return None
            self._last_refetch = time.monotonic()
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
            raise InvalidToken("The token is signed with an unknown key.")
        kty, crv = KEY_TYPES[alg]
        if jwk.get("kty") != kty or (crv and jwk.get("crv") != crv) or jwk.get("alg", alg) != alg:
            raise InvalidToken("The token's algorithm does not fit its key.")
        if jwk.get("use", "sig") != "sig":
            raise InvalidToken("The token's key is not a signing key.")
        try:
            key = jwt.PyJWK(jwk, algorithm=alg).key
        except jwt.PyJWTError as error:
            raise InvalidToken("The token's key is unusable.") from error
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


def unverified_header(token: str) -> dict[str, Any]:
    """Return the JOSE header of ``token`` (not verified); ``InvalidToken`` if malformed."""
    head, dot, _ = token.partition(".")
    try:
        header = json.loads(base64url_decode(head)) if dot else None
    except (ValueError, TypeError) as error:
        raise InvalidToken("The token is malformed.") from error
    if not isinstance(header, dict):
        raise InvalidToken("The token is malformed.")
    return header


def validate_jwt(
    token: str,
    *,
    audience: str | Container[str],
    required: tuple[str, ...] = ("iss", "aud", "exp", "iat", "sub"),
    nonce: str | None = None,
    typ: str | None = None,
) -> dict[str, Any]:
    """Verify ``token`` against the provider's keys and return its claims.

    Raise ``InvalidToken`` unless the signature uses an advertised asymmetric algorithm
    with a key of the matching type, ``iss`` is the issuer, ``aud`` is one string equal
    to ``audience`` (or in it, for a collection), the times (``exp``, ``nbf``, ``iat``)
    are valid within ``LOGTO['LEEWAY']``, the ``required`` claims are present and, when
    given, the header's ``typ`` is ``typ`` and the token carries ``nonce``.
    """
    cached = provider()
    header = unverified_header(token)
    alg = header.get("alg")
    if alg not in cached.signing_algorithms():
        raise InvalidToken(f"The token's algorithm {alg!r} is not accepted.")
    if any(name in header for name in FORBIDDEN_HEADERS):
        raise InvalidToken("The token carries a header we refuse.")
    if typ is not None and not _is_typ(header.get("typ"), typ):
        raise InvalidToken(f"The token's type is not {typ}.")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise InvalidToken("The token names no key.")
    key = cached.verification_key(kid, alg)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[alg],
            issuer=cached.issuer,
            leeway=logto_settings.leeway,
            options={"require": list(required), "verify_aud": False},
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(f"The token is not valid: {error}") from error
    aud = claims.get("aud")
    allowed = (audience,) if isinstance(audience, str) else audience
    # One audience only, as a string: a token meant for several parties is not ours alone.
    if not isinstance(aud, str) or aud not in allowed:
        raise InvalidToken("The token is meant for another audience.")
    if "sub" in required and (not isinstance(claims.get("sub"), str) or not claims["sub"]):
        raise InvalidToken("The token has no subject.")
    if nonce is not None and claims.get("nonce") != nonce:
        raise InvalidToken("The token's nonce does not match this sign-in.")
    return claims


def _is_typ(value: Any, expected: str) -> bool:
    # RFC 8725 section 3.11 / RFC 9068: "at+jwt", or its media type spelled in full.
    return isinstance(value, str) and value.lower() in (expected, f"application/{expected}")


def validate_id_token(token: str, *, nonce: str | None = None) -> dict[str, Any]:
    """Validate an ID token issued to this application."""
    return validate_jwt(token, audience=logto_settings.app_id, nonce=nonce)


def validate_logout_token(token: str) -> dict[str, Any]:
    """Validate a back-channel logout token (OpenID Back-Channel Logout 1.0, section 2.6).

    Replay of its ``jti`` is the caller's to reject: that needs storage.
    """
    claims = validate_jwt(
        token,
        audience=logto_settings.app_id,
        required=("iss", "aud", "iat", "exp", "jti"),
        typ="logout+jwt",
    )
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise InvalidToken("The logout token lacks the back-channel logout event.")
    if "nonce" in claims:
        raise InvalidToken("A logout token must not carry a nonce.")
    if not any(isinstance(claims.get(name), str) and claims[name] for name in ("sub", "sid")):
        raise InvalidToken("The logout token names neither a user (sub) nor a session (sid).")
    if not isinstance(claims["jti"], str) or not claims["jti"]:
        raise InvalidToken("The logout token has no jti.")
    return claims
