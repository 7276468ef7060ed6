"""Internal: may change in any release.

What Logto's tokens say: strict JWT validation (ID tokens, access tokens, back-channel
logout tokens), the cache of access tokens already verified, and the one claims pipeline
(the ID token, completed from userinfo with what the scopes promise). What the roles in
the claims give is ``_roles``' to say.

Logto puts its extended claims (``roles``, organizations, ...) in ID tokens only where the
tenant enables them; its userinfo endpoint always answers them. The claims userinfo
added (the *supplement*) are stored once in the session beside the ID token, and the
merged claims are what ``request.logto.claims``, the backend, the access helpers, the
webhooks and the admin read. A token that lacks a promised claim never erases the value
the supplement holds: claims are completed, never persisted without what was promised.
When another session of the same user synced them more recently, a session holds that
session's claims with its own volatile ones (``adopt``) until its next ID token.

Keys and the advertised algorithms come from ``_provider.py``. Everything here is
synchronous: call it from sync code (or through ``sync_to_async``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import jwt
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from logto_auth._memo import Memo
from logto_auth._provider import provider
from logto_auth._sessions import ADOPTED_KEY, CLAIMS_KEY, TOKEN_PREFIX
from logto_auth.conf import logto_settings
from logto_auth.exceptions import InvalidToken

if TYPE_CHECKING:
    from collections.abc import Callable, Container

    from django.contrib.sessions.backends.base import SessionBase

FORBIDDEN_HEADERS = ("crit", "jwk", "jku", "x5u", "x5c")
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def unverified_header(token: str) -> dict[str, Any]:
    """Return the JOSE header of ``token`` (not verified); ``InvalidToken`` if malformed."""
    try:
        # PyJWT's parser, not ours: it turns any input (deep nesting included) into one error.
        header: dict[str, Any] = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise InvalidToken(_("The token is malformed.")) from error
    return header


def unverified_claims(token: str) -> dict[str, Any]:
    """Decode a token that was validated when it was received."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


@sensitive_variables()
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
        raise InvalidToken(_("The token's algorithm %(alg)s is not accepted."), alg=repr(alg))
    if any(name in header for name in FORBIDDEN_HEADERS):
        raise InvalidToken(_("The token carries a header we refuse."))
    if typ is not None and not _is_typ(header.get("typ"), typ):
        raise InvalidToken(_("The token's type is not %(type)s."), type=typ)
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise InvalidToken(_("The token names no key."))
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
        raise InvalidToken(_("The token is not valid: %(error)s"), error=error) from error
    # PyJWT takes "exp": "1900000000" (it calls int()); the cache and the logout's replay
    # memory add to these times, so anything but a JSON number is refused (RFC 7519 NumericDate).
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InvalidToken(_("The token's %(claim)s is not a number."), claim=name)
    aud = claims.get("aud")
    allowed = (audience,) if isinstance(audience, str) else audience
    # One audience only, as a string: a token meant for several parties is not ours alone.
    if not isinstance(aud, str) or aud not in allowed:
        raise InvalidToken(_("The token is meant for another audience."))
    if "sub" in required and (not isinstance(claims.get("sub"), str) or not claims["sub"]):
        raise InvalidToken(_("The token has no subject."))
    if nonce is not None and claims.get("nonce") != nonce:
        raise InvalidToken(_("The token's nonce does not match this sign-in."))
    return claims


def _is_typ(value: Any, expected: str) -> bool:
    # RFC 8725 section 3.11 / RFC 9068: "at+jwt", or its media type spelled in full.
    return isinstance(value, str) and value.lower() in (expected, f"application/{expected}")


@sensitive_variables()
def validate_id_token(
    token: str, *, nonce: str | None = None, replacing: str | None = None
) -> dict[str, Any]:
    """Validate an ID token issued to this application; one ``replacing`` the ID token of
    an earlier response (a refresh) must name the same issuer, subject and audience."""
    claims = validate_jwt(token, audience=logto_settings.app_id, nonce=nonce)
    if replacing is not None:
        before = unverified_claims(replacing)
        changed = [name for name in ("iss", "sub", "aud") if before.get(name) != claims[name]]
        if changed:
            raise InvalidToken(
                _("The refreshed ID token has another %(claims)s."), claims=", ".join(changed)
            )
    return claims


@sensitive_variables()
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
        raise InvalidToken(_("The logout token lacks the back-channel logout event."))
    if "nonce" in claims:
        raise InvalidToken(_("A logout token must not carry a nonce."))
    if not any(isinstance(claims.get(name), str) and claims[name] for name in ("sub", "sid")):
        raise InvalidToken(_("The logout token names neither a user (sub) nor a session (sid)."))
    if not isinstance(claims["jti"], str) or not claims["jti"]:
        raise InvalidToken(_("The logout token has no jti."))
    return claims


# The claims pipeline

# Scope -> the claim that Logto's userinfo endpoint answers for it: those rights are made
# of. (custom_data and identities are left to fetch_user_info(): completing them would cost
# a provider call at every sign-in in a tenant with the default ID token claims.)
PROMISES = {
    "roles": "roles",
    "urn:logto:scope:organizations": "organizations",
    "urn:logto:scope:organization_roles": "organization_roles",
}


def promised() -> list[str]:
    """Return the extended claims that the configured scopes promise."""
    return [claim for scope, claim in PROMISES.items() if scope in logto_settings.scopes]


# Never in an ID token: userinfo's description of the user's organizations. It is not a
# claim the session keeps (the database does, LogtoOrganization): it comes with the claims
# of a sign-in or sync, never in the supplement, either as userinfo answered it (when
# userinfo was asked for other claims) or as a function that asks userinfo, which the
# backend calls only when it lacks an organization's data.
ORGANIZATION_DATA = "organization_data"


@sensitive_variables()
def complete(
    id_token: str,
    supplement: dict[str, Any] | None = None,
    fetch_user_info: Callable[[], dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(claims, supplement)`` for ``id_token``.

    When the token lacks a promised claim, ``fetch_user_info`` (if given: one provider
    call) supplies it; otherwise the previous ``supplement`` does. With
    ``fetch_user_info``, the claims carry ``organization_data``: userinfo's when it was
    asked, else a function that asks it.
    """
    token_claims = unverified_claims(id_token)
    lacking = [claim for claim in promised() if claim not in token_claims]
    added = dict(supplement or {})
    described: Any = None
    if fetch_user_info is not None:
        fetch = fetch_user_info
        described = lambda: fetch().get(ORGANIZATION_DATA)  # noqa: E731
    if lacking and fetch_user_info is not None:
        info = fetch_user_info()
        added.update({claim: info[claim] for claim in lacking if claim in info})
        described = info.get(ORGANIZATION_DATA)
    added = {claim: value for claim, value in added.items() if claim not in token_claims}
    claims = {**added, **token_claims}
    if described is not None:
        claims[ORGANIZATION_DATA] = described
    return claims, added


def stored_supplement(session: SessionBase) -> dict[str, Any]:
    """Return what completes the session's next ID token: the promised claims it holds."""
    adopted = session.get(ADOPTED_KEY)
    if isinstance(adopted, dict):  # newer than the supplement of our own ID token
        return {claim: adopted[claim] for claim in promised() if claim in adopted}
    value = session.get(CLAIMS_KEY)
    return value if isinstance(value, dict) else {}


def store(session: SessionBase, supplement: dict[str, Any]) -> None:
    """Keep ``supplement`` in the session (nothing when the ID token had everything).

    Called with a new ID token: its claims replace any adopted ones.
    """
    session.pop(ADOPTED_KEY, None)
    if supplement:
        session[CLAIMS_KEY] = supplement
    else:
        session.pop(CLAIMS_KEY, None)


def read(session: SessionBase) -> dict[str, Any]:
    """Return the merged claims of the session's Logto sign-in; ``{}`` without one."""
    id_token = session.get(TOKEN_PREFIX + "idToken")
    if not isinstance(id_token, str):
        return {}
    adopted = session.get(ADOPTED_KEY)
    if isinstance(adopted, dict):
        return dict(adopted)
    return {**stored_supplement(session), **unverified_claims(id_token)}


def adopt(session: SessionBase, synced: dict[str, Any], volatile: Container[str]) -> None:
    """Hold ``synced``, the claims another session of the user synced, with this session's
    own ``volatile`` ones (times, nonce, ``sid``: those of its own tokens), in place of the
    claims it holds; nothing is written when they say the same."""
    held = read(session)
    stable = {name: value for name, value in synced.items() if name not in volatile}
    if stable != {name: value for name, value in held.items() if name not in volatile}:
        own = {name: value for name, value in held.items() if name in volatile}
        session[ADOPTED_KEY] = {**stable, **own}


# Access tokens already verified


class VerifiedTokens:
    """Verified token claims by token, least recently used first out, kept until ``exp``."""

    def __init__(self) -> None:
        # token key -> claims as JSON text: each reader gets claims of its own
        self._memo: Memo[tuple[str, str], str] = Memo(lambda: logto_settings.api_token_cache_size)

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None:
        """Return a fresh copy of the claims, or ``None`` when unknown or expired."""
        claims = self._memo.get(key)
        if claims is None:
            return None
        found: dict[str, Any] = json.loads(claims)
        return found

    def put(self, key: tuple[str, str], claims: dict[str, Any]) -> None:
        self._memo.put(key, json.dumps(claims), claims["exp"] + logto_settings.leeway)

    def clear(self) -> None:
        self._memo.clear()

    def __len__(self) -> int:
        return len(self._memo)


verified_tokens = VerifiedTokens()
