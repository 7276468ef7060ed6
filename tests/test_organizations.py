"""Organizations: the current organization (switch, sign-in, signal, templates), views for
members (decorator, mixin, DRF), organization permissions as Django permissions, and
memberships and permissions that follow Logto."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from logto_auth import _organizations
from logto_auth._organization_permissions import serving
from logto_auth._sessions import ORGANIZATION_KEY
from logto_auth.backends import LogtoBackend
from logto_auth.checks import check_settings
from logto_auth.signals import organization_changed
from tests.conftest import PrivateProvider, Site
from tests.devprovider import DevProvider
from tests.test_context import context_of

pytestmark = pytest.mark.urls("tests.organization_urls")

ACME, GLOBEX = "acme4p9x2k7z", "globex8m3q5t"
ALICE, BOB = "alice0k7x2qm", "bob00f3n8wzt"
PERMISSIONS = ["invite:member", "manage:billing", "read:data"]
INTERVAL = 1.0


@pytest.fixture
def asking(settings: Any) -> None:
    """The site asks for the tenant's organization permissions at sign-in; no Logto role
    makes a superuser (Django would grant a superuser every permission)."""
    settings.LOGTO = {**settings.LOGTO, "ORGANIZATION_PERMISSIONS": PERMISSIONS, "ROLES": {}}


@pytest.fixture
def changes() -> Iterator[list[dict[str, Any]]]:
    """Every ``organization_changed`` sent during the test."""
    sent: list[dict[str, Any]] = []

    def record(sender: Any, **kwargs: Any) -> None:
        sent.append({"sender": sender, **kwargs})

    organization_changed.connect(record, dispatch_uid="test-organizations")
    yield sent
    organization_changed.disconnect(dispatch_uid="test-organizations")


def current(site: Site) -> str | None:
    found = context_of(site).organization
    return found.id if found is not None else None


def switch(site: Site, organization_id: str, **extra: Any) -> Any:
    return site.post("/logto/organization/", {"organization_id": organization_id}, **extra)


# The setting and the sign-in


def test_organization_permissions_must_be_a_list_of_names(settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "ORGANIZATION_PERMISSIONS": "invite:member"}

    assert [message.id for message in check_settings()] == ["logto_auth.E013"]


def test_the_sign_in_asks_for_the_organization_permissions(
    site: Site, dev_provider: DevProvider, settings: Any
) -> None:
    # Even without the organizations scope in SCOPES: organization tokens need it.
    settings.LOGTO = {
        **settings.LOGTO,
        "SCOPES": ["email"],
        "ORGANIZATION_PERMISSIONS": PERMISSIONS,
    }

    query = urllib.parse.parse_qs(urllib.parse.urlsplit(site.sign_in_url()).query)

    assert "urn:logto:resource:organizations" in query["resource"]
    scopes = query["scope"][0].split()
    assert {"urn:logto:scope:organizations", *PERMISSIONS} <= set(scopes)


def test_without_organization_permissions_the_sign_in_asks_for_none(
    site: Site, dev_provider: DevProvider
) -> None:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(site.sign_in_url()).query)

    assert not set(PERMISSIONS) & set(query["scope"][0].split())


def test_the_name_comes_from_organization_data_else_as_recorded_else_the_id() -> None:
    claims = {"organization_data": [{"id": ACME, "name": "Acme", "description": None}]}
    recorded = {ACME: "Acme (recorded)", GLOBEX: "Globex (recorded)"}

    assert _organizations.name_of(claims, ACME, recorded) == "Acme"
    assert _organizations.name_of(claims, GLOBEX, recorded) == "Globex (recorded)"
    assert _organizations.name_of({}, "initech0w2v6", recorded) == "initech0w2v6"


# The switch view


def test_switch_makes_a_members_organization_current_and_goes_to_next(
    site: Site, dev_provider: DevProvider
) -> None:
    site.sign_in(dev_provider, "alice")
    assert current(site) is None  # two organizations, none chosen before

    response = site.post("/logto/organization/", {"organization_id": GLOBEX, "next": "/profile/"})

    assert response.status_code == 302
    assert response["Location"] == "/profile/"
    assert current(site) == GLOBEX
    assert f'Current organization: <a href="/orgs/{GLOBEX}/">' in site.get("/").content.decode()


@pytest.mark.parametrize("organization_id", [GLOBEX, "unknown00000", ""])
def test_switch_to_a_foreign_or_unknown_organization_is_403_and_changes_nothing(
    site: Site, dev_provider: DevProvider, organization_id: str, changes: list[dict[str, Any]]
) -> None:
    site.sign_in(dev_provider, "bob")  # Acme only
    assert current(site) == ACME
    changes.clear()

    response = switch(site, organization_id)

    assert response.status_code == 403
    assert b"not a member of this organization" in response.content
    assert b"Globex" not in response.content
    assert current(site) == ACME
    assert changes == []
    assert "logto_organization" not in response.cookies


def test_switch_signed_out_is_sent_to_sign_in(site: Site, dev_provider: DevProvider) -> None:
    response = site.post("/logto/organization/", {"organization_id": ACME, "next": "/profile/"})

    assert response.status_code == 302
    parts = urllib.parse.urlsplit(response["Location"])
    assert parts.path == "/logto/sign-in/"
    assert urllib.parse.parse_qs(parts.query)["next"] == ["/profile/"]


def test_switch_needs_the_csrf_token(site: Site, dev_provider: DevProvider) -> None:
    strict = Site(site.kind, enforce_csrf_checks=True)
    strict.sign_in(dev_provider, "alice")

    refused = switch(strict, GLOBEX)

    assert refused.status_code == 403
    assert current(strict) is None
    page = strict.get("/").content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    accepted = strict.post(
        "/logto/organization/", {"organization_id": GLOBEX, "csrfmiddlewaretoken": token}
    )
    assert accepted.status_code == 302
    assert current(strict) == GLOBEX


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"next": "https://evil.example/"}, "/"),
        ({"next": "//evil.example/"}, "/"),
        ({"next": "https://evil.example/", "Referer": "http://testserver/profile/"}, None),
        ({"Referer": "https://evil.example/page"}, "/"),
    ],
)
def test_switch_ignores_an_unsafe_next_and_goes_back_or_home(
    site: Site, dev_provider: DevProvider, extra: dict[str, str], expected: str | None
) -> None:
    site.sign_in(dev_provider, "alice")
    extra, data = dict(extra), {"organization_id": GLOBEX}
    if "next" in extra:
        data["next"] = extra.pop("next")

    response = site.post("/logto/organization/", data, headers=extra)

    assert response.status_code == 302
    assert response["Location"] == (expected or "http://testserver/profile/")
    assert current(site) == GLOBEX


# After sign-in


def test_after_sign_in_the_only_organization_is_current(
    site: Site, dev_provider: DevProvider
) -> None:
    site.sign_in(dev_provider, "bob")

    assert current(site) == ACME
    assert site.session[ORGANIZATION_KEY] == ACME


def test_after_sign_in_the_last_organization_chosen_is_current_again(
    site: Site, dev_provider: DevProvider
) -> None:
    site.sign_in(dev_provider, "alice")
    switch(site, GLOBEX)
    site.post("/logto/sign-out/")
    assert b"Not authenticated" in site.get("/").content

    site.sign_in(dev_provider, "alice")

    assert current(site) == GLOBEX


def test_the_last_choice_of_one_user_is_not_another_users(
    site: Site, dev_provider: DevProvider
) -> None:
    site.sign_in(dev_provider, "alice")
    switch(site, ACME)
    site.post("/logto/sign-out/")

    site.sign_in(dev_provider, "carol")  # no organization

    assert current(site) is None
    assert _organizations.recall(_request_with(site), "carol0p5d1hs") is None


def _request_with(site: Site) -> Any:
    request = RequestFactory().get("/")
    request.COOKIES = {name: morsel.value for name, morsel in site.client.cookies.items()}
    return request


def test_a_forged_remembered_organization_is_ignored(site: Site, dev_provider: DevProvider) -> None:
    site.client.cookies["logto_organization"] = f"{ALICE}:{GLOBEX}"  # unsigned

    site.sign_in(dev_provider, "alice")

    assert current(site) is None


# The signal


def test_the_switch_and_the_sign_in_send_organization_changed(
    site: Site, dev_provider: DevProvider, changes: list[dict[str, Any]]
) -> None:
    site.sign_in(dev_provider, "bob")
    assert [(c["organization_id"], c["previous_id"]) for c in changes] == [(ACME, None)]
    changes.clear()
    site.sign_in(dev_provider, "alice")  # another user: the session starts afresh
    switch(site, GLOBEX)
    switch(site, GLOBEX)  # no change: no signal

    assert [(c["organization_id"], c["previous_id"]) for c in changes] == [(GLOBEX, None)]
    assert changes[0]["sender"] == "logto_auth"
    assert changes[0]["request"].path == "/logto/organization/"


# Templates


def test_the_home_page_shows_the_current_organization_and_the_switcher(
    site: Site, dev_provider: DevProvider
) -> None:
    site.sign_in(dev_provider, "alice")
    switch(site, ACME)

    page = site.get("/").content.decode()

    name = context_of(site).get_organization(ACME).name  # type: ignore[union-attr]
    assert f'Current organization: <a href="/orgs/{ACME}/">{name}</a>' in page
    assert 'action="/logto/organization/"' in page
    assert f'<option value="{ACME}" selected>' in page
    assert f'<option value="{GLOBEX}">' in page


def test_without_organizations_there_is_no_switcher(site: Site, dev_provider: DevProvider) -> None:
    site.sign_in(dev_provider, "carol")

    page = site.get("/").content.decode()

    assert "Current organization: none" in page
    assert 'action="/logto/organization/"' not in page


def test_the_context_processor_outside_a_logto_request_adds_nothing_to_read() -> None:
    from logto_auth.context_processors import organization

    assert organization(RequestFactory().get("/")) == {
        "logto_organization": None,
        "logto_organizations": [],
    }


# Views for members


@pytest.mark.parametrize(
    "path", ["invite", "async/invite", "mixin", "async/mixin", "drf", "member", "admin"]
)
def test_a_non_member_gets_403_and_nothing_of_the_organization(
    site: Site, dev_provider: DevProvider, asking: None, path: str
) -> None:
    site.sign_in(dev_provider, "bob")
    before = dev_provider.counters().get("token:refresh_token", 0)

    response = site.get(f"/o/{GLOBEX}/{path}/")

    assert response.status_code == 403
    assert b"Globex" not in response.content
    # Membership comes from the claims: Logto is not asked.
    assert dev_provider.counters().get("token:refresh_token", 0) == before


@pytest.mark.parametrize("path", ["invite", "async/invite", "mixin", "async/mixin", "drf"])
def test_a_member_without_the_permission_gets_403(
    site: Site, dev_provider: DevProvider, asking: None, path: str
) -> None:
    site.sign_in(dev_provider, "bob")  # Acme member: read:data only

    response = site.get(f"/o/{ACME}/{path}/")

    assert response.status_code == 403
    assert b"invite:member" in response.content


@pytest.mark.parametrize("path", ["invite", "async/invite", "mixin", "async/mixin", "drf"])
def test_a_member_with_the_permission_gets_the_view(
    site: Site, dev_provider: DevProvider, asking: None, path: str
) -> None:
    site.sign_in(dev_provider, "alice")  # Acme admin

    response = site.get(f"/o/{ACME}/{path}/")

    assert response.status_code == 200
    assert b"ok" in response.content


def test_roles_come_from_the_claims(site: Site, dev_provider: DevProvider) -> None:
    site.sign_in(dev_provider, "alice")  # admin in Acme, member in Globex
    before = dev_provider.counters().get("token:refresh_token", 0)

    assert site.get(f"/o/{ACME}/admin/").status_code == 200
    assert site.get(f"/o/{GLOBEX}/admin/").status_code == 403
    assert site.get(f"/o/{GLOBEX}/member/").status_code == 200
    assert dev_provider.counters().get("token:refresh_token", 0) == before


def test_without_an_organization_in_the_url_the_current_one_is_used(
    site: Site, dev_provider: DevProvider
) -> None:
    site.sign_in(dev_provider, "alice")
    refused = site.get("/o/current/")
    switch(site, GLOBEX)

    assert refused.status_code == 403
    assert b"Choose an organization" in refused.content
    assert site.get("/o/current/").content == f"ok {current_name(site)}".encode()


def current_name(site: Site) -> str:
    found = context_of(site).organization
    assert found is not None
    return found.name


def test_signed_out_visitors_are_sent_to_sign_in(site: Site, dev_provider: DevProvider) -> None:
    response = site.get(f"/o/{ACME}/invite/")

    assert response.status_code == 302
    assert response["Location"].startswith("/logto/sign-in/?next=")


def test_permissions_cost_one_provider_call_per_organization_and_token_lifetime(
    site: Site, dev_provider: DevProvider, asking: None
) -> None:
    site.sign_in(dev_provider, "alice")
    before = dev_provider.counters().get("token:refresh_token", 0)

    for _ in range(3):
        assert site.get(f"/o/{ACME}/invite/").status_code == 200
    after_acme = dev_provider.counters().get("token:refresh_token", 0)
    for _ in range(3):
        assert site.get(f"/o/{GLOBEX}/invite/").status_code == 403  # member, no invite:member
    after_globex = dev_provider.counters().get("token:refresh_token", 0)

    assert after_acme == before + 1
    assert after_globex == after_acme + 1


def test_the_demo_organization_page(site: Site, dev_provider: DevProvider, asking: None) -> None:
    site.sign_in(dev_provider, "bob")

    page = site.get(f"/orgs/{ACME}/").content.decode()

    # The name Logto gives it (userinfo's organization_data, recorded at the sign-in).
    assert "Organization: Acme" in page
    assert current_name(site) == "Acme"
    assert "Roles: member" in page
    assert "Permissions: read:data" in page
    assert site.get(f"/orgs/{GLOBEX}/").status_code == 403


# Organization permissions as Django permissions


@pytest.mark.parametrize("view", ["perm", "async/perm"])
def test_has_perm_answers_from_the_organization_token(
    site: Site, dev_provider: DevProvider, asking: None, view: str
) -> None:
    site.sign_in(dev_provider, "bob")

    def has(organization_id: str, perm: str) -> dict[str, bool]:
        response = site.get(f"/o/{organization_id}/{view}/", {"perm": perm})
        assert response.status_code == 200
        return response.json()  # type: ignore[no-any-return]

    assert all(has(ACME, "read:data").values())
    assert not any(has(ACME, "invite:member").values())
    assert not any(has(GLOBEX, "read:data").values())  # not a member
    assert not any(has(ACME, "auth.view_user").values())


def test_has_perm_outside_a_request_or_for_another_user_is_false(
    wsgi_site: Site, dev_provider: DevProvider, asking: None, django_user_model: Any
) -> None:
    wsgi_site.sign_in(dev_provider, "bob")
    bob = django_user_model.objects.get(logto_identity__sub=BOB)
    other = django_user_model.objects.create_user("mallory")
    logto = context_of(wsgi_site)
    request = logto._request
    request.logto = logto  # type: ignore[attr-defined]
    backend = LogtoBackend()

    assert not backend.has_perm(bob, "read:data", ACME)  # no request served
    with serving(request):
        assert backend.has_perm(bob, "read:data", ACME)
        assert not backend.has_perm(other, "read:data", ACME)
        assert not backend.has_perm(AnonymousUser(), "read:data", ACME)


# Following Logto


@pytest.fixture
def syncing(private_provider: PrivateProvider, settings: Any) -> PrivateProvider:
    settings.LOGTO = {
        **settings.LOGTO,
        "SYNC_INTERVAL": INTERVAL,
        "ORGANIZATION_PERMISSIONS": PERMISSIONS,
        "ROLES": {},
    }
    return private_provider


def organizations_of(provider: PrivateProvider, username: str) -> list[dict[str, Any]]:
    users = json.loads(provider.users.read_text())
    found: list[dict[str, Any]] = next(u for u in users if u["username"] == username)[
        "organizations"
    ]
    return found


def test_a_membership_ended_at_logto_ends_the_current_organization_at_the_next_sync(
    site: Site, syncing: PrivateProvider, changes: list[dict[str, Any]]
) -> None:
    site.sign_in(syncing, "alice")
    switch(site, GLOBEX)
    changes.clear()
    remaining = [o for o in organizations_of(syncing, "alice") if o["id"] != GLOBEX]
    syncing.edit_user("alice", organizations=remaining)
    assert current(site) == GLOBEX  # until the sync

    time.sleep(INTERVAL + 0.05)
    page = site.get("/").content.decode()

    assert "Current organization: none" in page
    assert current(site) is None
    assert [(c["organization_id"], c["previous_id"]) for c in changes] == [(None, GLOBEX)]
    assert switch(site, GLOBEX).status_code == 403


def test_a_403_on_the_organization_token_ends_the_current_organization_at_once(
    site: Site, syncing: PrivateProvider, settings: Any
) -> None:
    settings.LOGTO = {**settings.LOGTO, "SYNC_INTERVAL": 60}
    site.sign_in(syncing, "alice")
    switch(site, GLOBEX)
    remaining = [o for o in organizations_of(syncing, "alice") if o["id"] != GLOBEX]
    syncing.edit_user("alice", organizations=remaining)

    refused = site.get(f"/o/{GLOBEX}/invite/")

    assert refused.status_code == 403
    assert current(site) is None
    assert "Current organization: none" in site.get("/").content.decode()
    # The next request synced the claims: Globex is gone from them too.
    assert GLOBEX not in context_of(site).claims["organizations"]


def test_a_permission_taken_away_at_logto_is_gone_after_the_sync(
    site: Site, syncing: PrivateProvider
) -> None:
    site.sign_in(syncing, "bob")
    assert "Permissions: read:data" in site.get(f"/orgs/{ACME}/").content.decode()
    syncing.edit_user("bob", organizations=[{"id": ACME, "name": "Acme", "roles": []}])
    assert "Permissions: read:data" in site.get(f"/orgs/{ACME}/").content.decode()  # held

    time.sleep(INTERVAL + 0.05)
    site.get("/")

    page = site.get(f"/orgs/{ACME}/").content.decode()
    assert "Roles: none" in page
    assert "Permissions: none" in page
