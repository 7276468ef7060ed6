"""Logto webhooks: HMAC-signed user events that keep Django users in step with Logto.

Logto signs the raw body with the hook's signing key (header ``logto-signature-sha-256``,
hex HMAC-SHA256), waits 10 s for an answer and retries up to 3 times: events are
verified in constant time, acted on at once, and remembered so that a retry is ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import TYPE_CHECKING, Any

from django.core.cache import cache

from logto_auth import sessions
from logto_auth.backends import logto_backend
from logto_auth.conf import logto_settings
from logto_auth.exceptions import InvalidSignature, LogtoError
from logto_auth.models import LogtoIdentity

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "logto-signature-sha-256"
REPLAY_TTL = 24 * 3600  # seconds an event is remembered; Logto retries within a minute
# Logto's user fields, as the claims the backend reads at sign-in.
CLAIMS_OF_USER = {
    "username": "username",
    "name": "name",
    "primaryEmail": "email",
    "primaryPhone": "phone_number",
    "avatar": "picture",
    "customData": "custom_data",
}


def verify(body: bytes, signature: str | None) -> None:
    """Raise ``InvalidSignature`` unless ``signature`` is the body's HMAC with our key."""
    key = logto_settings.webhook_signing_key
    if not key:
        raise InvalidSignature("Webhooks are not configured (LOGTO['WEBHOOK_SIGNING_KEY']).")
    if not signature:
        raise InvalidSignature(f"The {SIGNATURE_HEADER} header is missing.")
    expected = hmac.new(key.encode(), body, hashlib.sha256).hexdigest().encode()
    # Compared as bytes: ``compare_digest`` raises TypeError on a str with non-ASCII
    # characters, and a header is whatever the sender put there.
    given = signature.strip().lower().encode(errors="replace")
    if not hmac.compare_digest(expected, given):
        raise InvalidSignature("The webhook signature does not match.")


def handle(request: HttpRequest, body: bytes) -> str:
    """Act on one verified event (once); return what was done, for the log and the answer."""
    try:
        event = json.loads(body)
    except ValueError as error:
        raise LogtoError("The webhook body is not JSON.") from error
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        raise LogtoError("The webhook body names no event.")
    key = sessions.cache_key("webhook", body)
    if cache.get(key) is not None:
        logger.info("Ignoring a replayed webhook %s", event["event"])
        return "replay ignored"
    data = event.get("data")
    user = data if isinstance(data, dict) and isinstance(data.get("id"), str) else None
    handler = HANDLERS.get(event["event"])
    outcome = handler(request, user) if handler and user else "ignored"
    cache.set(key, 1, REPLAY_TTL)
    logger.info("Webhook %s (hook %s): %s", event["event"], event.get("hookId"), outcome)
    return outcome


def user_updated(request: HttpRequest, data: dict[str, Any]) -> str:
    """Update the Django user from Logto's user data, through the backend's hooks."""
    identity = LogtoIdentity.for_sub(data["id"])
    if identity is None:
        return "unknown user"
    # Claims this event does not carry (roles, organizations) keep their last known value.
    claims = {**identity.claims, "sub": identity.sub}
    claims.update({claim: data[field] for field, claim in CLAIMS_OF_USER.items() if field in data})
    logto_backend().sync_user(request, identity.user, claims)
    return "user updated"


def user_suspension_updated(request: HttpRequest, data: dict[str, Any]) -> str:
    """Deactivate a suspended user and end their sessions; reactivate an unsuspended one."""
    if data.get("isSuspended") is True:
        return user_deleted(request, data)
    identity = LogtoIdentity.for_sub(data["id"])
    if identity is None:
        return "unknown user"
    identity.user.is_active = True
    identity.user.save(update_fields=["is_active"])
    return "user reactivated"


def user_deleted(request: HttpRequest, data: dict[str, Any]) -> str:
    """Deactivate the user (their Django data stays) and end all their sessions."""
    ended = sessions.end_sessions(sub=data["id"])
    identity = LogtoIdentity.for_sub(data["id"])
    if identity is not None and identity.user.is_active:
        identity.user.is_active = False
        identity.user.save(update_fields=["is_active"])
    return f"user deactivated, {ended} session(s) ended"


HANDLERS = {
    "User.Data.Updated": user_updated,
    "User.SuspensionStatus.Updated": user_suspension_updated,
    "User.Deleted": user_deleted,
}
