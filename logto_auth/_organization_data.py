"""Internal: may change in any release.

The organizations Logto describes, and the user's memberships, as the site records them
(``LogtoOrganization``, ``LogtoMembership``): which organizations of the claims need
describing (unknown here, or described too long ago: one query, none for those this
process found fresh lately), descriptions upserted in one query, memberships written only
where they changed. ``LogtoBackend``'s hooks
(``sync_memberships``, ``organizations_to_describe``, ``describe_organizations``,
``sync_organizations``) decide what and when; sign-ins, syncs and the organization webhooks
go through them.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.utils import timezone

from logto_auth._memo import Memo
from logto_auth._roles import organization_roles_of
from logto_auth.models import LogtoIdentity, LogtoMembership, LogtoOrganization

# A Logto ID is short and plain: anything else names no organization of ours.
LOGTO_ID = re.compile(r"[\w-]{1,255}", re.ASCII)
# The organizations this process found fresh, each until it is due again: a returning
# user's sign-in that names only those costs no query for them.
fresh_lately: Memo[str, bool] = Memo(lambda: 4096)


def named(claims: dict[str, Any]) -> set[str]:
    """Return the organizations ``claims`` name, those with a Logto ID."""
    return {org for org in organization_roles_of(claims) if LOGTO_ID.fullmatch(org)}


def undescribed(claims: dict[str, Any], max_age: float) -> list[str]:
    """Return the organizations of ``claims`` unknown here or described more than
    ``max_age`` seconds ago, sorted: one query, none when the claims name none or only
    organizations this process found fresh lately (until they are due)."""
    organizations = {org for org in named(claims) if not fresh_lately.get(org)}
    if not organizations:
        return []
    fresh_since = timezone.now() - timedelta(seconds=max_age)
    found = LogtoOrganization.objects.filter(pk__in=organizations, updated_at__gt=fresh_since)
    fresh = dict(found.order_by().values_list("pk", "updated_at"))
    for org, updated_at in fresh.items():
        fresh_lately.put(org, True, updated_at.timestamp() + max_age)
    return sorted(organizations - set(fresh))


def entries(described: Any, wanted: set[str]) -> list[dict[str, Any]]:
    """Return the entries of ``described`` for the organizations ``wanted``: userinfo's
    ``organization_data``, or a function that asks userinfo for it, called now."""
    if callable(described):
        described = described()
    found = described if isinstance(described, list) else []
    return [entry for entry in found if isinstance(entry, dict) and entry.get("id") in wanted]


def record_organizations(described: Any) -> list[str]:
    """Record organizations as Logto describes them, ``[{id, name, description}, ...]``, in
    one query (new ones inserted, known ones renewed); return the IDs recorded. Malformed
    entries are left out."""
    found: dict[str, LogtoOrganization] = {}
    for entry in described if isinstance(described, list) else []:
        if not isinstance(entry, dict):
            continue
        org, name, description = entry.get("id"), entry.get("name"), entry.get("description")
        if not isinstance(org, str) or not LOGTO_ID.fullmatch(org) or not isinstance(name, str):
            continue
        if not isinstance(description, str):
            description = None
        found[org] = LogtoOrganization(id=org, name=name[:255], description=description)
    if found:
        # One statement (INSERT ... ON CONFLICT): new ones inserted, known ones renewed.
        LogtoOrganization.objects.bulk_create(
            found.values(),
            update_conflicts=True,
            unique_fields=["id"],
            update_fields=["name", "description", "updated_at"],
        )
    return list(found)


def record_memberships(
    identity: LogtoIdentity, claims: dict[str, Any], *, created: bool = False
) -> None:
    """Record the organizations of ``claims`` and the identity's roles in each, writing only
    what changed: the memberships gone in one query, the new and changed ones in one
    upsert (an identity ``created`` now has none to read). Claims without
    ``organizations`` and ``organization_roles`` (scopes not granted) change none.

    The upsert takes a membership another sign-in of the same user wrote meanwhile (the
    first sign-ins of a new user in two browsers at once) instead of failing on it.
    """
    if "organizations" not in claims and "organization_roles" not in claims:
        return
    memberships = {org: sorted(roles) for org, roles in organization_roles_of(claims).items()}
    held = {} if created else {m.organization_id: m for m in identity.memberships.all()}
    gone = [m.pk for org, m in held.items() if org not in memberships]
    if gone:
        LogtoMembership.objects.filter(pk__in=gone).delete()
    changed = [
        LogtoMembership(identity=identity, organization_id=org, roles=roles)
        for org, roles in memberships.items()
        if org not in held or held[org].roles != roles
    ]
    if changed:
        LogtoMembership.objects.bulk_create(
            changed,
            update_conflicts=True,
            unique_fields=["identity", "organization"],
            update_fields=["roles"],
        )
