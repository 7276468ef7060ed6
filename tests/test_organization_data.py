"""Organizations as Django data: ``LogtoOrganization`` filled from userinfo's
``organization_data`` (asked only when the site lacks an organization's data, or holds it
from longer ago than ``organization_data_max_age``), kept fresh by the organization
webhooks, shown read-only in the admin."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from logto_auth import _memo, _organization_data, _sessions, _tokens
from logto_auth.backends import LogtoBackend
from logto_auth.models import LogtoIdentity, LogtoMembership, LogtoOrganization, LogtoSession
from tests.conftest import PrivateProvider, Site
from tests.devprovider import DevProvider
from tests.test_sync import INTERVAL, after_interval
from tests.test_webhooks import iso

KEY = "organization-webhooks-test-key"
URL = "/logto/webhooks/"
ACME, GLOBEX = "acme4p9x2k7z", "globex8m3q5t"
ALICE, BOB = "alice0k7x2qm", "bob00f3n8wzt"
User = get_user_model()


@pytest.fixture(autouse=True)
def signing_key(logto_settings: dict[str, Any], settings: Any) -> None:
    settings.LOGTO = {**logto_settings, "WEBHOOK_SIGNING_KEY": KEY}


def post(site: Site, body: bytes) -> Any:
    signature = hmac.new(KEY.encode(), body, hashlib.sha256).hexdigest()
    return site.post(
        URL, body, content_type="application/json", headers={"logto-signature-sha-256": signature}
    )


def organization(
    org: str = ACME, name: str = "Acme", description: str | None = None
) -> dict[str, Any]:
    """An organization as Logto's webhooks carry it (``data``)."""
    return {
        "id": org,
        "tenantId": "default",
        "name": name,
        "description": description,
        "customData": {},
        "isMfaRequired": False,
        "branding": {},
        "createdAt": 1795881839660,
    }


def hook(kind: str, /, *, ago: float = 0, **fields: Any) -> bytes:
    """A webhook body of an organization event created ``ago`` seconds ago."""
    created_at = iso(time.time() - ago)
    return json.dumps({"event": kind, "createdAt": created_at, "hookId": "h1", **fields}).encode()


def member(sub: str, *orgs: str, roles: tuple[str, ...] = ()) -> LogtoIdentity:
    """A Django user signed in once as the Logto user ``sub``, a member of ``orgs``."""
    user = User.objects.create_user(username=sub)
    identity = LogtoIdentity.objects.create(user=user, sub=sub, synced_digest="digest")
    for org in orgs:
        LogtoMembership.objects.create(identity=identity, organization_id=org, roles=list(roles))
    return identity


def known(org: str = ACME, name: str = "Acme", **fields: Any) -> LogtoOrganization:
    return LogtoOrganization.objects.create(id=org, name=name, **fields)


def indexed_session(sub: str, **data: Any) -> str:
    """A session of the Logto user ``sub`` in the configured store, indexed; its key."""
    session = _sessions.session_store()()
    session.update({_sessions.SYNCED_KEY: time.time(), **data})
    session.save()
    assert session.session_key is not None
    LogtoSession.objects.create(sub=sub, sid="sid-" + sub, session_key=session.session_key)
    return session.session_key


def stored(key: str) -> dict[str, Any]:
    return dict(_sessions.session_store()(key).items())


# The claims pipeline: when userinfo is asked for organization data


def id_token(**claims: Any) -> str:
    """An ID token as the pipeline reads it (decoded, not verified: it was at receipt)."""
    return jwt.encode({"sub": ALICE, "iat": 1, "exp": 2, **claims}, "k" * 32, algorithm="HS256")


USERINFO = {
    "sub": ALICE,
    "organizations": [ACME],
    "organization_data": [{"id": ACME, "name": "Acme", "description": None}],
}


def test_pipeline_hands_the_backend_a_way_to_ask_userinfo_kept_out_of_the_session() -> None:
    asked: list[str] = []

    def fetch() -> dict[str, Any]:
        asked.append("userinfo")
        return USERINFO

    claims, supplement = _tokens.complete(
        id_token(roles=[], organizations=[ACME], organization_roles=[]), fetch_user_info=fetch
    )

    assert asked == []  # nothing asked unless the backend needs it
    assert claims["organization_data"]() == USERINFO["organization_data"]
    assert asked == ["userinfo"]
    assert "organization_data" not in supplement


def test_pipeline_passes_on_the_organization_data_of_userinfo_asked_for_other_claims() -> None:
    # A tenant that leaves roles out of ID tokens: userinfo is asked at every sync anyway.
    claims, supplement = _tokens.complete(
        id_token(), fetch_user_info=lambda: {**USERINFO, "roles": [], "organization_roles": []}
    )

    assert supplement["organizations"] == [ACME]
    assert claims["organization_data"] == USERINFO["organization_data"]
    assert "organization_data" not in supplement


def test_pipeline_without_userinfo_carries_no_organization_data() -> None:
    claims, _ = _tokens.complete(id_token(roles=[], organizations=[ACME], organization_roles=[]))

    assert "organization_data" not in claims


@pytest.mark.django_db
def test_organizations_to_describe_are_the_unknown_and_stale_ones_for_one_query() -> None:
    backend = LogtoBackend()
    claims = {"sub": ALICE, "organizations": [ACME, GLOBEX], "organization_roles": []}
    known(ACME)

    with CaptureQueriesContext(connection) as captured:
        unknown = backend.organizations_to_describe(claims)
    known(GLOBEX)
    fresh = backend.organizations_to_describe(claims)
    LogtoOrganization.objects.filter(pk=ACME).update(
        updated_at=timezone.now() - timedelta(seconds=backend.organization_data_max_age + 1)
    )
    _organization_data.fresh_lately.clear()  # as a process that did not find them fresh
    stale = backend.organizations_to_describe(claims)
    with CaptureQueriesContext(connection) as none:
        nothing = backend.organizations_to_describe({"sub": ALICE, "organizations": []})

    assert (unknown, fresh, stale, nothing) == ([GLOBEX], [], [ACME], [])
    assert len(captured.captured_queries) == 1
    assert none.captured_queries == []


@pytest.mark.django_db
def test_organizations_found_fresh_are_not_checked_again_until_they_are_due(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = LogtoBackend()
    max_age = backend.organization_data_max_age
    claims = {"sub": ALICE, "organizations": [ACME, GLOBEX], "organization_roles": []}
    known(ACME)
    known(GLOBEX)
    assert backend.organizations_to_describe(claims) == []  # one query: both fresh

    with CaptureQueriesContext(connection) as soon:
        fresh = backend.organizations_to_describe(claims)
    LogtoOrganization.objects.update(updated_at=timezone.now() - timedelta(seconds=max_age + 1))
    due = time.time() + max_age + 1
    monkeypatch.setattr(_memo, "time", SimpleNamespace(time=lambda: due))
    with CaptureQueriesContext(connection) as later:
        stale = backend.organizations_to_describe(claims)

    assert (fresh, soon.captured_queries) == ([], [])
    assert (stale, len(later.captured_queries)) == ([ACME, GLOBEX], 1)


def test_two_first_sign_ins_of_a_new_user_at_once_both_succeed(
    wsgi_site: Site, private_provider: PrivateProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Site("wsgi")  # a second browser
    first = private_provider.authorize(wsgi_site.sign_in_url(), "bob")
    second = private_provider.authorize(other.sign_in_url(), "bob")
    create = LogtoBackend.get_or_create_user
    raced: list[Any] = []

    def racing(self: LogtoBackend, claims: dict[str, Any]) -> Any:
        found = create(self, claims)
        if not raced:  # the first callback has just created bob: the second one runs now
            raced.append(None)
            raced.append(other.callback(second))
        return found

    monkeypatch.setattr(LogtoBackend, "get_or_create_user", racing)

    assert wsgi_site.callback(first).status_code == 302
    assert raced[1].status_code == 302
    memberships = LogtoMembership.objects.filter(identity__sub=BOB)
    assert list(memberships.values_list("organization_id", "roles")) == [(ACME, ["member"])]


@pytest.mark.django_db
def test_recording_memberships_another_sign_in_wrote_meanwhile_takes_them() -> None:
    identity = LogtoIdentity.objects.create(user=get_user_model().objects.create(), sub=ALICE)
    claims = {
        "sub": ALICE,
        "organizations": [ACME, GLOBEX],
        "organization_roles": [f"{ACME}:admin", f"{GLOBEX}:member"],
    }
    _organization_data.record_memberships(identity, claims, created=True)  # the other one
    # This sign-in read the memberships before the other one wrote them: none.
    stale = LogtoIdentity.objects.get(pk=identity.pk)
    stale._prefetched_objects_cache = {"memberships": LogtoMembership.objects.none()}  # type: ignore[attr-defined]

    _organization_data.record_memberships(identity, claims, created=True)
    _organization_data.record_memberships(
        stale, {**claims, "organization_roles": [f"{ACME}:member", f"{GLOBEX}:member"]}
    )

    assert dict(identity.memberships.values_list("organization_id", "roles")) == {
        ACME: ["member"],
        GLOBEX: ["member"],
    }


@pytest.mark.django_db
def test_sync_organizations_records_new_and_changed_ones_in_one_query() -> None:
    backend = LogtoBackend()
    known(ACME, "Acme")
    data = [
        {"id": ACME, "name": "Acme Corp", "description": "Renamed"},
        {"id": GLOBEX, "name": "Globex", "description": None},
        {"id": "bad\x00id", "name": "Nope"},
        {"id": "nameless"},
    ]

    with CaptureQueriesContext(connection) as captured:
        recorded = backend.sync_organizations(data)

    assert sorted(recorded) == [ACME, GLOBEX]
    assert len(captured.captured_queries) == 1
    organizations = LogtoOrganization.objects.values_list("id", "name", "description")
    assert sorted(organizations) == [
        (ACME, "Acme Corp", "Renamed"),
        (GLOBEX, "Globex", None),
    ]


@pytest.mark.django_db
def test_a_returning_user_asks_userinfo_only_for_unknown_or_stale_organizations() -> None:
    backend = LogtoBackend()
    claims = {"sub": ALICE, "organizations": [ACME, GLOBEX], "organization_roles": []}
    described: list[dict[str, Any]] = [
        {"id": ACME, "name": "Acme Corp", "description": None},
        {"id": GLOBEX, "name": "Globex", "description": "Second"},
    ]
    asked: list[str] = []

    def ask() -> list[dict[str, Any]]:
        asked.append("userinfo")
        return described

    known(ACME, "Acme")
    known(GLOBEX, "Globex")
    fresh = backend.describe_organizations(claims, ask)
    LogtoOrganization.objects.filter(pk=ACME).update(
        updated_at=timezone.now() - timedelta(seconds=backend.organization_data_max_age + 1)
    )
    _organization_data.fresh_lately.clear()  # as a process that did not find them fresh
    stale = backend.describe_organizations(claims, ask)

    assert (fresh, stale, asked) == ([], [ACME], ["userinfo"])
    # Only what needed describing is written: Globex, fresh, keeps its name.
    assert dict(LogtoOrganization.objects.values_list("id", "name")) == {
        ACME: "Acme Corp",
        GLOBEX: "Globex",
    }


@pytest.mark.django_db
def test_a_first_sign_in_describes_every_organization_without_a_check() -> None:
    claims = {"sub": ALICE, "organizations": [ACME], "organization_roles": [f"{ACME}:admin"]}

    with CaptureQueriesContext(connection) as captured:
        recorded = LogtoBackend().describe_organizations(
            claims, lambda: USERINFO["organization_data"], created=True
        )

    assert recorded == [ACME]
    assert [q["sql"].split()[0] for q in captured.captured_queries] == ["INSERT"]


@pytest.mark.django_db
def test_sync_user_records_organization_data_but_not_in_the_claims_or_digest() -> None:
    backend = LogtoBackend()
    identity = member(ALICE)
    claims = {"sub": ALICE, "roles": [], "organizations": [ACME], "organization_roles": []}
    backend.sync_user(None, identity.user, claims)
    digest = LogtoIdentity.objects.get(sub=ALICE).synced_digest

    described = {**claims, "organization_data": [{"id": ACME, "name": "Acme"}]}
    backend.sync_user(None, identity.user, described)

    identity = LogtoIdentity.objects.get(sub=ALICE)
    assert LogtoOrganization.objects.get(pk=ACME).name == "Acme"
    assert identity.synced_digest == digest  # nothing else changed: nothing else written
    assert "organization_data" not in identity.claims
    assert LogtoMembership.objects.get(identity=identity).organization.name == "Acme"


@pytest.mark.django_db
def test_existing_memberships_survive_without_their_organization() -> None:
    identity = member(ALICE, ACME, roles=("admin",))

    assert identity.organizations == [ACME]
    assert LogtoMembership.objects.filter(identity__user=identity.user, organization_id=ACME)
    assert not LogtoOrganization.objects.exists()


# Webhooks: WSGI and ASGI, database and cache sessions


def test_organization_created_is_recorded(site: Site) -> None:
    body = hook("Organization.Created", data=organization(description="New"))

    response = post(site, body)

    assert response.json() == {"result": "organization recorded"}
    acme = LogtoOrganization.objects.get(pk=ACME)
    assert (acme.name, acme.description) == ("Acme", "New")


def test_organization_renamed_is_updated(site: Site) -> None:
    known(ACME, "Acme")

    response = post(site, hook("Organization.Data.Updated", data=organization(name="Acme Corp")))

    assert response.json() == {"result": "organization recorded"}
    assert LogtoOrganization.objects.get(pk=ACME).name == "Acme Corp"


def test_replayed_organization_event_is_not_applied_twice(site: Site) -> None:
    body = hook("Organization.Data.Updated", data=organization(name="Acme Corp"))
    post(site, body)
    LogtoOrganization.objects.filter(pk=ACME).update(name="Renamed here since")

    replayed = post(site, body)
    cache.clear()  # the replay memory lost; the database still knows
    after_flush = post(site, body)

    assert replayed.json() == {"result": "replay ignored"}
    assert after_flush.json() == {"result": "replay ignored"}
    assert LogtoOrganization.objects.get(pk=ACME).name == "Renamed here since"


def test_older_organization_update_after_a_newer_one_is_ignored(site: Site) -> None:
    post(site, hook("Organization.Data.Updated", data=organization(name="Newest")))

    response = post(site, hook("Organization.Data.Updated", ago=60, data=organization(name="Old")))

    assert response.json() == {"result": "out of order: ignored"}
    assert LogtoOrganization.objects.get(pk=ACME).name == "Newest"


def test_organization_deleted_ends_memberships_and_the_sessions_current_organization(
    site: Site,
) -> None:
    known(ACME)
    alice, bob = member(ALICE, ACME, GLOBEX), member(BOB, ACME)
    in_acme = indexed_session(ALICE, **{_sessions.ORGANIZATION_KEY: ACME})
    in_globex = indexed_session(ALICE, **{_sessions.ORGANIZATION_KEY: GLOBEX})
    bobs = indexed_session(BOB, **{_sessions.ORGANIZATION_KEY: ACME, "site": "kept"})
    cache.set(_sessions.published_key(ALICE), {"at": time.time(), "claims": {}})

    response = post(site, hook("Organization.Deleted", params={"id": ACME}))

    assert response.json() == {
        "result": "organization deleted, 2 membership(s) ended, 2 session(s) left it"
    }
    assert not LogtoOrganization.objects.filter(pk=ACME).exists()
    assert not LogtoMembership.objects.filter(organization_id=ACME).exists()
    assert alice.organizations == [GLOBEX]
    assert _sessions.ORGANIZATION_KEY not in stored(in_acme)
    assert stored(in_globex)[_sessions.ORGANIZATION_KEY] == GLOBEX
    assert stored(bobs) == {"site": "kept"}  # left it, and its sync is due
    assert _sessions.SYNCED_KEY not in stored(in_globex)
    assert cache.get(_sessions.published_key(ALICE)) is None
    assert set(LogtoIdentity.objects.values_list("synced_digest", flat=True)) == {""}
    assert bob.memberships.count() == 0


def test_update_delivered_late_after_the_deletion_does_not_bring_it_back(site: Site) -> None:
    post(site, hook("Organization.Deleted", params={"id": ACME}))

    response = post(site, hook("Organization.Data.Updated", ago=30, data=organization()))

    assert response.json() == {"result": "organization deleted: ignored"}
    assert not LogtoOrganization.objects.exists()


def test_membership_removal_ends_it_at_once_and_makes_the_sync_due(site: Site) -> None:
    alice, bob = member(ALICE, ACME, GLOBEX), member(BOB)
    current = indexed_session(ALICE, **{_sessions.ORGANIZATION_KEY: ACME})
    other = indexed_session(ALICE, **{_sessions.ORGANIZATION_KEY: GLOBEX})
    bobs = indexed_session(BOB)
    body = hook(
        "Organization.Membership.Updated",
        organizationId=ACME,
        addedUserIds=[BOB],
        removedUserIds=[ALICE],
    )

    response = post(site, body)

    assert response.json() == {"result": "1 membership(s) ended, 2 user(s) to sync"}
    assert alice.organizations == [GLOBEX]
    assert stored(current) == {}
    assert stored(other) == {_sessions.ORGANIZATION_KEY: GLOBEX}
    assert stored(bobs) == {}  # added: it learns its roles at its next sync
    assert LogtoIdentity.objects.get(sub=BOB).synced_digest == ""
    assert bob.memberships.count() == 0


def test_membership_event_naming_no_organization_is_ignored(site: Site) -> None:
    member(ALICE, ACME)

    response = post(site, hook("Organization.Membership.Updated", removedUserIds=[ALICE]))

    assert response.json() == {"result": "ignored"}
    assert LogtoMembership.objects.count() == 1


def test_replayed_membership_event_is_not_applied_twice(site: Site) -> None:
    member(ALICE, ACME)
    body = hook("Organization.Membership.Updated", organizationId=ACME, removedUserIds=[ALICE])
    post(site, body)
    LogtoMembership.objects.create(
        identity=LogtoIdentity.objects.get(sub=ALICE), organization_id=ACME
    )  # the next sync found alice in Acme again

    response = post(site, body)

    assert response.json() == {"result": "replay ignored"}
    assert LogtoMembership.objects.count() == 1


# The admin: read-only


@pytest.fixture
def viewer(db: None) -> Client:
    """A staff member who may view organizations and memberships, nothing more."""
    user = User.objects.create_user(username="viewer", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_logtoorganization", "view_logtomembership"])
    )
    client = Client()
    client.force_login(user)
    return client


def test_admin_lists_and_searches_organizations(viewer: Client) -> None:
    known(ACME, "Acme")
    known(GLOBEX, "Globex")

    everything = viewer.get("/admin/logto_auth/logtoorganization/")
    by_name = viewer.get("/admin/logto_auth/logtoorganization/", {"q": "glob"})
    by_id = viewer.get("/admin/logto_auth/logtoorganization/", {"q": ACME})

    assert everything.status_code == 200
    assert b"Acme" in everything.content
    assert b"Globex" in everything.content
    assert b"Globex" in by_name.content
    assert b"Acme" not in by_name.content
    assert b"Acme" in by_id.content
    assert b"Globex" not in by_id.content
    assert b"/add/" not in everything.content


def test_admin_organization_page_shows_members_and_roles_read_only(viewer: Client) -> None:
    known(ACME, "Acme")
    member(ALICE, ACME, roles=("admin", "billing"))

    page = viewer.get(f"/admin/logto_auth/logtoorganization/{ACME}/change/")

    assert page.status_code == 200
    text = page.content.decode()
    assert ALICE in text
    assert "admin, billing" in text
    assert 'name="name"' not in text  # no field to edit
    assert "/delete/" not in text


def test_admin_refuses_adding_changing_and_deleting_organizations(viewer: Client) -> None:
    known(ACME)
    base = "/admin/logto_auth/logtoorganization/"

    assert viewer.get(f"{base}add/").status_code == 403
    assert viewer.get(f"{base}{ACME}/delete/").status_code == 403
    assert viewer.post(f"{base}{ACME}/change/", {"name": "Hacked"}).status_code == 403
    assert LogtoOrganization.objects.get(pk=ACME).name == "Acme"


def test_admin_membership_list_searches_by_organization_name(viewer: Client) -> None:
    known(ACME, "Acme")
    member(ALICE, ACME)
    member(BOB, GLOBEX)  # Globex unknown here: still listed

    everything = viewer.get("/admin/logto_auth/logtomembership/")
    found = viewer.get("/admin/logto_auth/logtomembership/", {"q": "acme"})

    assert everything.status_code == 200
    assert GLOBEX.encode() in everything.content
    assert ALICE.encode() in found.content
    assert BOB.encode() not in found.content


# Against the dev provider: sign-in, sync, and the next request after a webhook


def test_sign_in_records_the_organizations_userinfo_describes(
    site: Site, dev_provider: DevProvider
) -> None:
    LogtoOrganization.objects.all().delete()  # the site knows none of them

    site.sign_in(dev_provider, "alice")

    names = dict(LogtoOrganization.objects.values_list("id", "name"))
    assert names[ACME] == "Acme"
    assert names[GLOBEX] == "Globex"
    identity = LogtoIdentity.objects.get(sub=ALICE)
    acme = identity.memberships.select_related("organization").get(organization_id=ACME)
    assert acme.organization.name == "Acme"
    assert acme.roles == ["admin"]
    assert "organization_data" not in identity.claims
    assert "organization_data" not in site.session.get(_sessions.CLAIMS_KEY, {})


def rename(provider: PrivateProvider, org: str, name: str) -> None:
    """Rename an organization at the provider (as the Console would: alice's view of it)."""
    if hasattr(provider, "update_organization"):  # a provider with run-time organizations
        provider.update_organization(org, name=name)
        return
    users = json.loads(provider.users.read_text())
    [alice] = [user for user in users if user["username"] == "alice"]
    renamed = [{**o, "name": name} if o["id"] == org else o for o in alice["organizations"]]
    provider.edit_user("alice", organizations=renamed)


@pytest.mark.urls("tests.urls")
def test_a_rename_at_the_provider_shows_at_the_first_sync_once_the_data_is_due(
    site: Site, private_provider: PrivateProvider, settings: Any
) -> None:
    settings.LOGTO = {**settings.LOGTO, "SYNC_INTERVAL": INTERVAL}
    site.sign_in(private_provider, "alice")
    rename(private_provider, ACME, "Acme Renamed")
    asked = private_provider.counters().get("/oidc/me", 0)

    assert after_interval(site).status_code == 200  # the data is an hour fresh: not asked
    unchanged = LogtoOrganization.objects.get(pk=ACME).name
    max_age = timedelta(seconds=LogtoBackend.organization_data_max_age + 1)
    LogtoOrganization.objects.update(updated_at=timezone.now() - max_age)
    _organization_data.fresh_lately.clear()  # as a process that did not find them fresh
    assert after_interval(site).status_code == 200

    assert unchanged == "Acme"
    assert private_provider.counters().get("/oidc/me", 0) == asked + 1
    assert LogtoOrganization.objects.get(pk=ACME).name == "Acme Renamed"


@pytest.mark.urls("tests.urls")
def test_membership_webhook_makes_the_users_next_request_sync_with_logto(
    site: Site, dev_provider: DevProvider, settings: Any
) -> None:
    settings.LOGTO = {**settings.LOGTO, "SYNC_INTERVAL": 3600}  # not due of itself
    site.sign_in(dev_provider, "alice")
    session = site.session
    session[_sessions.ORGANIZATION_KEY] = GLOBEX
    session.save()
    body = hook("Organization.Membership.Updated", organizationId=GLOBEX, removedUserIds=[ALICE])
    refreshes = dev_provider.counters().get("token:refresh_token", 0)

    assert post(site, body).json() == {"result": "1 membership(s) ended, 1 user(s) to sync"}
    ended = sorted(LogtoIdentity.objects.get(sub=ALICE).organizations)
    assert _sessions.ORGANIZATION_KEY not in site.session
    response = site.get("/")

    assert b"Authenticated" in response.content
    assert ended == [ACME]
    assert dev_provider.counters()["token:refresh_token"] == refreshes + 1
    # Logto still lists alice in Globex (the event was ours): the sync says so again.
    assert sorted(LogtoIdentity.objects.get(sub=ALICE).organizations) == [ACME, GLOBEX]
