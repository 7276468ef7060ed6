"""Internal: may change in any release.

What Logto tells the site on its own: back-channel logouts and webhooks.

OpenID Connect Back-Channel Logout 1.0: the provider tells us a Logto session ended. The
logout token is validated by ``_tokens.py``; its ``jti`` is remembered in Django's cache
until the token expires, so a replayed token is refused on every instance, unless ending
the sessions failed: then it is forgotten, so that the provider's retry can end them.

Logto webhooks: HMAC-signed user and organization events that keep Django users and
organizations in step with Logto.
Logto signs the raw body with the hook's signing key (header ``logto-signature-sha-256``,
hex HMAC-SHA256), waits 10 s for an answer and retries up to 3 times: events are
verified in constant time, acted on at once, and remembered so that a retry is ignored.
The signature never expires, so the event's ``createdAt`` bounds how long a captured body
can be replayed (no longer than it is remembered), and the ``createdAt`` of the last event
applied to a user (or to an organization: its data events), kept in the database with
the digests of the events applied at that time, stops an older event from undoing a newer
one, and the newest from applying twice, whatever the cache has forgotten.

Organization events: ``Organization.Created`` and ``Organization.Data.Updated`` record the
organization (``LogtoOrganization``); ``Organization.Deleted`` forgets it with its
memberships, remembers the deletion as long as an older event could be accepted, and
takes it out of its members' sessions (``_sessions.make_sync_due``);
``Organization.Membership.Updated`` ends the memberships it removes at once and makes the
sessions of the users it names sync at their next request (``_sessions.make_sync_due``,
which also withdraws the claims a sync published for them). Membership events are not
ordered in the database: what one does is undone or confirmed by the next sync, which
asks Logto. A role changed inside an organization sends no event: the sync learns it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from logto_auth import _sessions
from logto_auth._tokens import validate_logout_token
from logto_auth.backends import logto_backend
from logto_auth.conf import logto_settings
from logto_auth.exceptions import InvalidSignature, InvalidToken, LogtoError
from logto_auth.models import LogtoIdentity, LogtoMembership, LogtoOrganization

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.db.models import QuerySet
    from django.http import HttpRequest

logger = logging.getLogger(__name__)


@sensitive_variables()
def log_out(logout_token: str) -> int:
    """Validate ``logout_token`` and end the Django sessions it names; return how many.

    Raise ``InvalidToken`` when the token is not acceptable. An unknown session is not an
    error: Logto also notifies the site that started the sign-out, whose session is gone.
    An error while ending the sessions (a database error) propagates, with the ``jti``
    unrecorded.
    """
    claims = validate_logout_token(logout_token)
    key = _sessions.cache_key("jti", claims["jti"])
    ttl = max(1, int(claims["exp"] - time.time()) + logto_settings.leeway)
    # Taken before acting (``add`` is atomic), so that two deliveries at once act once.
    if not cache.add(key, 1, ttl):
        raise InvalidToken(_("This logout token was already used."))
    try:
        ended = _sessions.end_sessions(sid=claims.get("sid"), sub=claims.get("sub"))
    except BaseException:
        # The sessions may survive: forget the jti so that the provider's retry, which the
        # 500 this error becomes asks for, is not refused as a replay.
        cache.delete(key)
        raise
    logger.info(
        "Back-channel logout of sub=%s sid=%s ended %s session(s)",
        claims.get("sub"),
        claims.get("sid"),
        ended,
    )
    return ended


SIGNATURE_HEADER = "logto-signature-sha-256"
USER_ID = re.compile(r"[\w-]{1,255}", re.ASCII)
# Seconds an event is accepted after Logto created it, and remembered (Logto retries
# within a minute); an older one is refused, as its replay could no longer be recognised.
REPLAY_TTL = 24 * 3600
# Logto's user fields, as the claims the backend reads at sign-in.
CLAIMS_OF_USER = {
    "username": "username",
    "name": "name",
    "primaryEmail": "email",
    "primaryPhone": "phone_number",
    "avatar": "picture",
    "customData": "custom_data",
}


@sensitive_variables()
def verify(body: bytes, signature: str | None) -> None:
    """Raise ``InvalidSignature`` unless ``signature`` is the body's HMAC with our key."""
    key = logto_settings.webhook_signing_key
    if not key:
        raise InvalidSignature(_("Webhooks are not configured (LOGTO['WEBHOOK_SIGNING_KEY'])."))
    if not signature:
        raise InvalidSignature(_("The %(header)s header is missing."), header=SIGNATURE_HEADER)
    expected = hmac.new(key.encode(), body, hashlib.sha256).hexdigest().encode()
    # Compared as bytes: ``compare_digest`` raises TypeError on a str with non-ASCII
    # characters, and a header is whatever the sender put there.
    given = signature.strip().lower().encode(errors="replace")
    if not hmac.compare_digest(expected, given):
        raise InvalidSignature(_("The webhook signature does not match."))


def handle(request: HttpRequest, body: bytes) -> str:
    """Act on one verified event (once); return what was done, for the log and the answer."""
    try:
        event = json.loads(body)
    # Nesting deeper than the interpreter's recursion limit is not an event either.
    except (ValueError, RecursionError) as error:
        raise LogtoError(_("The webhook body is not JSON.")) from error
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        raise LogtoError(_("The webhook body names no event."))
    created_at = created_at_of(event)
    # An authentic but stale event is refused (400), not ignored with a 200: no delivery
    # of Logto's is late by a day (it retries within a minute) nor early beyond LEEWAY, so
    # this is a captured body replayed or a clock gone wrong, and a 400 shows the latter in
    # Logto's delivery log as well as ours. Logto's few retries of it do no harm.
    age = time.time() - created_at.timestamp()
    if age > REPLAY_TTL:
        raise LogtoError(_("The webhook event is too old to be acted on (createdAt)."))
    if age < -logto_settings.leeway:
        raise LogtoError(_("The webhook event was created in the future (createdAt)."))
    digest = hashlib.sha256(body).hexdigest()
    key = _sessions.cache_key("webhook", body)
    # Remembered as long as the event stays acceptable; ``add`` is atomic, so of two
    # deliveries at once only one acts.
    if not cache.add(key, 1, math.ceil(REPLAY_TTL - age) + 1):
        logger.info("Ignoring a replayed webhook %s", event["event"])
        return "replay ignored"
    try:
        outcome = apply(request, event, created_at, digest)
    except BaseException:
        # Not acted on: Logto's retry must not be ignored as a replay.
        cache.delete(key)
        raise
    logger.info("Webhook %s (hook %s): %s", event["event"], event.get("hookId"), outcome)
    return outcome


def created_at_of(event: dict[str, Any]) -> datetime:
    """Return the event's ``createdAt`` (ISO 8601 with a time zone); raise ``LogtoError``."""
    value = event.get("createdAt")
    try:
        created_at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        created_at = None
    if created_at is None or created_at.tzinfo is None:
        raise LogtoError(_("The webhook event has no valid createdAt."))
    return created_at


def apply(request: HttpRequest, event: dict[str, Any], created_at: datetime, digest: str) -> str:
    """Apply a user or organization event unless a newer one, or this one (``digest`` of
    its body), was applied to that user or organization already."""
    if not settings.USE_TZ:  # the database then holds naive local times
        created_at = timezone.make_naive(created_at)
    kind = event["event"]
    if kind in ORGANIZATION_HANDLERS:
        return ORGANIZATION_HANDLERS[kind](event, created_at, digest)
    data = event.get("data")
    # A Logto user ID is short and plain; anything else (a NUL byte, which PostgreSQL
    # refuses in a query) names no user of ours.
    user_id = data.get("id") if isinstance(data, dict) else None
    user = data if isinstance(user_id, str) and USER_ID.fullmatch(user_id) else None
    handler = HANDLERS.get(kind)
    if handler is None or user is None:
        return "ignored"
    rows = LogtoIdentity.objects.filter(sub=user["id"])
    return in_order(rows, kind, created_at, digest, lambda: handler(request, user))


def in_order(
    rows: QuerySet[Any], kind: str, created_at: datetime, digest: str, act: Callable[[], str]
) -> str:
    """Run ``act`` for the event ``kind`` unless the row of ``rows`` (a user's identity, an
    organization) has applied a newer event, or this one; then record it on the row."""
    with transaction.atomic():
        # The row lock makes two events of one user apply one after the other; the time
        # lives in the database, so a cache flush does not let an old event through.
        last, digests = (
            rows.select_for_update().values_list("last_event_at", "last_event_digests").first()
        ) or (None, [])
        # 200 in both cases, so that Logto does not retry what will never apply.
        if last is not None and created_at < last:
            logger.info("Ignoring webhook %s created before the last one applied", kind)
            return "out of order: ignored"
        # Logto's events carry no ID and its times are in milliseconds: two events of one
        # user may share a createdAt. A different body is another event, applied (dropping
        # it could lose a suspension); the same body is this one again.
        if created_at == last and digest in digests:
            logger.info("Ignoring webhook %s already applied", kind)
            return "replay ignored"
        outcome = act()
        applied = [*digests, digest] if created_at == last else [digest]
        rows.update(last_event_at=created_at, last_event_digests=applied)
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
    ended = _sessions.end_sessions(sub=data["id"])
    identity = LogtoIdentity.for_sub(data["id"])
    if identity is not None and identity.user.is_active:
        identity.user.is_active = False
        identity.user.save(update_fields=["is_active"])
    return f"user deactivated, {ended} session(s) ended"


def organization_changed(event: dict[str, Any], created_at: datetime, digest: str) -> str:
    """Record a created or updated organization (the event's data is all of it), in order."""
    data = event.get("data")
    org = data.get("id") if isinstance(data, dict) else None
    if not isinstance(org, str) or not USER_ID.fullmatch(org) or not isinstance(data, dict):
        return "ignored"
    deleted_at = cache.get(_sessions.cache_key("organization-deleted", org))
    if isinstance(deleted_at, float) and created_at.timestamp() <= deleted_at:
        # Delivered late (Logto retries), after the deletion: it must not bring it back.
        return "organization deleted: ignored"
    rows = LogtoOrganization.objects.filter(pk=org)

    def record() -> str:
        recorded = logto_backend().sync_organizations([data])
        return "organization recorded" if recorded else "ignored"

    return in_order(rows, event["event"], created_at, digest, record)


def organization_deleted(event: dict[str, Any], created_at: datetime, digest: str) -> str:
    """Forget the organization and every membership of it; its members' sessions drop it
    as their current organization and sync at their next request (their rights may have
    come from their roles in it)."""
    params = event.get("params")
    org = params.get("id") if isinstance(params, dict) else None
    if not isinstance(org, str) or not USER_ID.fullmatch(org):
        return "ignored"
    # Remembered as long as an older event of it could still be accepted.
    key = _sessions.cache_key("organization-deleted", org)
    cache.set(key, created_at.timestamp(), REPLAY_TTL + math.ceil(logto_settings.leeway))
    memberships = LogtoMembership.objects.filter(organization_id=org)
    with transaction.atomic():
        members = list(memberships.values_list("identity__sub", flat=True))
        memberships.delete()
        LogtoOrganization.objects.filter(pk=org).delete()
        # What the site last applied no longer holds: the next sync applies everything.
        LogtoIdentity.objects.filter(sub__in=members).update(synced_digest="")
    left = _sessions.make_sync_due(members, leaving=org)
    return f"organization deleted, {len(members)} membership(s) ended, {left} session(s) left it"


def membership_updated(event: dict[str, Any], created_at: datetime, digest: str) -> str:
    """End the memberships Logto removed at once; the users added or removed sync at their
    next request (the event names no roles: the sync learns them)."""
    data = event.get("data")
    fields = {**(data if isinstance(data, dict) else {}), **event}
    org = fields.get("organizationId")
    if not isinstance(org, str) or not USER_ID.fullmatch(org):
        return "ignored"
    added, removed = (user_ids(fields.get(name)) for name in ("addedUserIds", "removedUserIds"))
    with transaction.atomic():
        memberships = LogtoMembership.objects.filter(organization_id=org, identity__sub__in=removed)
        ended = memberships.delete()[0]
        LogtoIdentity.objects.filter(sub__in=[*added, *removed]).update(synced_digest="")
    _sessions.make_sync_due(removed, leaving=org)
    _sessions.make_sync_due(added)
    return f"{ended} membership(s) ended, {len(added) + len(removed)} user(s) to sync"


def user_ids(value: Any) -> list[str]:
    """The plausible Logto user IDs of a list (Logto leaves an empty one out)."""
    values = value if isinstance(value, list) else []
    return [user for user in values if isinstance(user, str) and USER_ID.fullmatch(user)]


HANDLERS = {
    "User.Data.Updated": user_updated,
    "User.SuspensionStatus.Updated": user_suspension_updated,
    "User.Deleted": user_deleted,
}
ORGANIZATION_HANDLERS: dict[str, Callable[[dict[str, Any], datetime, str], str]] = {
    "Organization.Created": organization_changed,
    "Organization.Data.Updated": organization_changed,
    "Organization.Deleted": organization_deleted,
    "Organization.Membership.Updated": membership_updated,
}
