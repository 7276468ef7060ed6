"""Internal: may change in any release.

One claims pipeline: the ID token, completed from userinfo with what the scopes promise.

Logto puts its extended claims (``roles``, organizations, ...) in ID tokens only where the
tenant enables them; its userinfo endpoint always answers them. The claims userinfo
added (the *supplement*) are stored once in the session beside the ID token, and the
merged claims are what ``request.logto.claims``, the backend, the access helpers, the
webhooks and the admin read. A token that lacks a promised claim never erases the value
the supplement holds: claims are completed, never persisted without what was promised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.views.decorators.debug import sensitive_variables

from logto_auth._sessions import CLAIMS_KEY, TOKEN_PREFIX
from logto_auth._tokens import unverified_claims
from logto_auth.conf import logto_settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.contrib.sessions.backends.base import SessionBase

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


@sensitive_variables()
def complete(
    id_token: str,
    supplement: dict[str, Any] | None = None,
    fetch_user_info: Callable[[], dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(claims, supplement)`` for ``id_token``.

    When the token lacks a promised claim, ``fetch_user_info`` (if given: one provider
    call) supplies it; otherwise the previous ``supplement`` does.
    """
    token_claims = unverified_claims(id_token)
    lacking = [claim for claim in promised() if claim not in token_claims]
    added = dict(supplement or {})
    if lacking and fetch_user_info is not None:
        info = fetch_user_info()
        added.update({claim: info[claim] for claim in lacking if claim in info})
    added = {claim: value for claim, value in added.items() if claim not in token_claims}
    return {**added, **token_claims}, added


def stored_supplement(session: SessionBase) -> dict[str, Any]:
    value = session.get(CLAIMS_KEY)
    return value if isinstance(value, dict) else {}


def store(session: SessionBase, supplement: dict[str, Any]) -> None:
    """Keep ``supplement`` in the session (nothing when the ID token had everything)."""
    if supplement:
        session[CLAIMS_KEY] = supplement
    else:
        session.pop(CLAIMS_KEY, None)


def read(session: SessionBase) -> dict[str, Any]:
    """Return the merged claims of the session's Logto sign-in; ``{}`` without one."""
    id_token = session.get(TOKEN_PREFIX + "idToken")
    if not isinstance(id_token, str):
        return {}
    return {**stored_supplement(session), **unverified_claims(id_token)}
