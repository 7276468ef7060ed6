"""Organizations in a dev provider that fails where Logto fails (issue "Organizations", item 6;
DESIGN.md, "Facts that shape the design" → Organizations; devprovider/README.md). Each test
pins one behaviour measured against Logto 1.42 where the dev provider used to differ:
organization tokens' permissions, refreshes asking ungranted scopes, grants fixed at sign-in,
organization-level and plain API tokens, ``organization_data``, and the webhooks (signed, and
shaped like ``shared/logto-samples/webhook_user_created.json``).

Each test starts a dev provider of its own (they change organizations and roles), whose
webhooks go to a small receiver in this process."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
import requests

from logto_auth.models import LogtoIdentity
from tests.conftest import Site
from tests.devprovider import (
    ORGANIZATIONS_RESOURCE,
    ORGANIZATIONS_SCOPE,
    ROOT,
    TEST_CLIENT_ORIGIN,
    WEBHOOK_SIGNING_KEY,
    DevProvider,
)

pytestmark = pytest.mark.integration

ALICE = "alice0k7x2qm"
BOB = "bob00f3n8wzt"
CAROL = "carol0p5d1hs"
ACME = "acme4p9x2k7z"
GLOBEX = "globex8m3q5t"
INITECH = "initech0w2v6"  # no members, description null
GLOBEX_DESCRIPTION = "A second organization only Alice belongs to"
API = "http://127.0.0.1:8000/api"
ROLES_SCOPE = "urn:logto:scope:organization_roles"
BASE = f"openid offline_access {ORGANIZATIONS_SCOPE} {ROLES_SCOPE}"
# What a real Logto 1.42 answered (copies of shared/logto-samples/, kept with the tests).
SAMPLES = ROOT / "tests" / "logto_samples"


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def alice_user() -> Any:
    return LogtoIdentity.objects.select_related("user").get(sub=ALICE).user


def scope_of(response: requests.Response) -> str | None:
    assert response.status_code == 200, response.text
    return claims(response.json()["access_token"]).get("scope")


class Receiver:
    """An HTTP endpoint that keeps what is POSTed to it: (headers, raw body)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/logto/webhooks/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    started = Receiver()
    yield started
    started.server.shutdown()
    started.server.server_close()


@pytest.fixture
def logto(receiver: Receiver) -> Iterator[DevProvider]:
    """A dev provider of this test's own, its webhook pointed at the receiver."""
    receiver.received.clear()
    started = DevProvider(
        DEV_PROVIDER_WEBHOOK_URL=receiver.url,
        DEV_PROVIDER_BACKCHANNEL_LOGOUT_URI="http://127.0.0.1:9/logto/back-channel-logout/",
    ).start()
    started.register_site(TEST_CLIENT_ORIGIN)
    yield started
    started.stop()


# --- Organization tokens -----------------------------------------------------------------


def test_an_organization_token_carries_the_requested_permissions_held_there(
    logto: DevProvider,
) -> None:
    alice = logto.sign_in_tokens(
        "alice", f"{BASE} invite:member read:data", [ORGANIZATIONS_RESOURCE]
    )

    acme = logto.refresh(alice["refresh_token"], organization_id=ACME)
    globex = logto.refresh(alice["refresh_token"], organization_id=GLOBEX)

    token = claims(acme.json()["access_token"])
    assert token["aud"] == f"urn:logto:organization:{ACME}"
    assert token["exp"] - token["iat"] == 3600
    # Admin in Acme: invite:member manage:billing read:data; the sign-in asked for two.
    assert token["scope"] == acme.json()["scope"] == "invite:member read:data"
    # Member in Globex: read:data only.
    assert scope_of(globex) == "read:data"


def test_without_the_organizations_resource_an_organization_token_has_no_permissions(
    logto: DevProvider,
) -> None:
    no_resource = logto.sign_in_tokens("alice", f"{BASE} invite:member read:data")
    no_names = logto.sign_in_tokens("alice", BASE, [ORGANIZATIONS_RESOURCE])

    for tokens in (no_resource, no_names):
        response = logto.refresh(tokens["refresh_token"], organization_id=ACME)
        assert scope_of(response) is None
        assert response.json()["scope"] == ""
    # The same shape as Logto's sample organization token without permissions.
    shape = sample("organization_access_token.json")
    raw = logto.refresh(no_names["refresh_token"], organization_id=ACME).json()["access_token"]
    assert set(claims(raw)) == set(shape["claims"])
    assert jwt.get_unverified_header(raw)["typ"] == shape["header"]["typ"]


def test_a_non_member_or_an_unknown_organization_is_403_access_denied(logto: DevProvider) -> None:
    bob = logto.sign_in_tokens("bob", f"{BASE} read:data", [ORGANIZATIONS_RESOURCE])

    for organization_id in (GLOBEX, INITECH, "nosuchorg000"):
        response = logto.refresh(bob["refresh_token"], organization_id=organization_id)
        assert response.status_code == 403, organization_id
        assert response.json()["error"] == "access_denied"
        assert response.json()["code"] == "oidc.access_denied"


def test_a_refresh_asking_a_scope_the_sign_in_did_not_grant_is_invalid_scope(
    logto: DevProvider,
) -> None:
    alice = logto.sign_in_tokens("alice", f"{BASE} read:data", [ORGANIZATIONS_RESOURCE])

    ungranted = logto.refresh(alice["refresh_token"], organization_id=ACME, scope="manage:billing")
    granted = logto.refresh(alice["refresh_token"], organization_id=ACME, scope="read:data")

    assert ungranted.status_code == 400, ungranted.text
    assert ungranted.json()["error"] == "invalid_scope"
    assert ungranted.json()["code"] == "oidc.invalid_scope"
    assert "refresh token missing requested scope" in ungranted.json()["error_description"]
    assert scope_of(granted) == "read:data"
    # The refusal costs nothing: the refresh token still works.
    assert scope_of(logto.refresh(alice["refresh_token"], organization_id=ACME)) == "read:data"


def test_a_permission_added_to_a_role_reaches_tokens_at_the_next_sign_in(
    logto: DevProvider,
) -> None:
    asked = f"{BASE} invite:member read:data"
    bob = logto.sign_in_tokens("bob", asked, [ORGANIZATIONS_RESOURCE])
    assert scope_of(logto.refresh(bob["refresh_token"], organization_id=ACME)) == "read:data"

    logto.add_organization_role_scopes("member", ["invite:member"])

    same_session = logto.refresh(bob["refresh_token"], organization_id=ACME)
    again = logto.sign_in_tokens("bob", asked, [ORGANIZATIONS_RESOURCE])
    assert scope_of(same_session) == "read:data"
    assert scope_of(logto.refresh(again["refresh_token"], organization_id=ACME)) == (
        "invite:member read:data"
    )
    [updated] = logto.webhooks("OrganizationRole.Scopes.Updated")
    assert json.loads(updated["body"])["organizationRoleId"] == "member"
    # Undone for whoever shares the provider: the permission leaves tokens at once.
    logto.reset_organizations()
    assert scope_of(logto.refresh(again["refresh_token"], organization_id=ACME)) == "read:data"


# --- API tokens ----------------------------------------------------------------------------


def test_an_organization_level_api_token_has_the_resource_as_audience_and_an_organization_id(
    logto: DevProvider,
) -> None:
    alice = logto.sign_in_tokens("alice", f"{BASE} read:profile read:org", [API])

    acme = logto.refresh(alice["refresh_token"], organization_id=ACME, resource=API)
    globex = logto.refresh(alice["refresh_token"], organization_id=GLOBEX, resource=API)
    wider = logto.refresh(
        alice["refresh_token"], organization_id=ACME, resource=API, scope="write:profile"
    )

    token = claims(acme.json()["access_token"])
    assert token["aud"] == API
    assert token["organization_id"] == ACME
    # read:org from her Acme role, read:profile from her global role; write:profile, which
    # her role would grant, was not asked for at sign-in.
    assert token["scope"] == "read:profile read:org"
    assert scope_of(globex) == "read:profile"
    assert wider.status_code == 400
    assert wider.json()["error"] == "invalid_scope"


def test_a_plain_api_token_carries_scopes_held_through_organization_roles(
    logto: DevProvider,
) -> None:
    alice = logto.sign_in_tokens("alice", f"{BASE} read:profile read:org", [API])
    bob = logto.sign_in_tokens("bob", f"{BASE} read:profile read:org", [API])

    plain = logto.refresh(alice["refresh_token"], resource=API)

    assert "organization_id" not in claims(plain.json()["access_token"])
    # read:org comes from her admin role in Acme.
    assert scope_of(plain) == "read:profile read:org"
    assert scope_of(logto.refresh(bob["refresh_token"], resource=API)) == "read:profile"


def test_userinfo_has_the_organization_data_in_effect(logto: DevProvider) -> None:
    alice = logto.sign_in_tokens("alice", BASE)
    shape = sample("userinfo.json")["organization_data"][0]

    before = logto.userinfo(alice["access_token"])["organization_data"]
    logto.update_organization(ACME, name="Acme Corp", description=None)
    logto.add_members(INITECH, [ALICE], ["member"])
    after = logto.userinfo(alice["access_token"])["organization_data"]

    assert all(set(organization) == set(shape) for organization in before + after)
    assert [organization["name"] for organization in before] == ["Acme", "Globex"]
    assert after == [
        {"id": ACME, "name": "Acme Corp", "description": None},
        {"id": GLOBEX, "name": "Globex", "description": GLOBEX_DESCRIPTION},
        {"id": INITECH, "name": "Initech", "description": None},
    ]


# --- Webhooks ------------------------------------------------------------------------------


def test_organization_webhooks_are_signed_and_shaped_like_logtos(
    logto: DevProvider, receiver: Receiver
) -> None:
    delivery = sample("webhook_user_created.json")

    created = logto.create_organization("Hooli", "Middle-out compression")
    logto.update_organization(created["id"], name="Hooli XYZ")
    logto.add_members(created["id"], [BOB], ["member"])
    logto.delete_organization(created["id"])

    assert [event["event"] for event in receiver.events()] == [
        "Organization.Created",
        "Organization.Data.Updated",
        "Organization.Membership.Updated",
        # No membership event for bob when his organization goes.
        "Organization.Deleted",
    ]
    for headers, body in receiver.received:
        expected = hmac.new(WEBHOOK_SIGNING_KEY.encode(), body, hashlib.sha256).hexdigest()
        assert headers[delivery["header"]] == expected
        assert headers["user-agent"] == delivery["user_agent"]
        assert headers["content-type"] == delivery["content_type"]
        keys = list(json.loads(body))
        assert keys[:2] == ["event", "createdAt"]
        assert keys[-1] == "hookId"
    create, update, _, delete = receiver.events()
    assert create["data"]["id"] == created["id"]
    assert create["data"]["name"] == "Hooli"
    assert create["data"]["description"] == "Middle-out compression"
    # The whole organization, not only what changed.
    assert update["data"] == {**create["data"], "name": "Hooli XYZ"}
    assert delete["params"] == {"id": created["id"]}
    assert "data" not in delete
    # Recorded too, raw body and signature as sent.
    recorded = logto.webhooks()
    assert [d["body"].encode() for d in recorded] == [body for _, body in receiver.received]
    assert all(d["status"] == 200 for d in recorded)


def test_membership_webhooks_name_the_users_and_leave_empty_lists_out(
    logto: DevProvider, receiver: Receiver
) -> None:
    logto.add_members(GLOBEX, [BOB, CAROL], ["admin"])
    logto.remove_member(ACME, BOB)

    added, removed = receiver.events()

    assert added["event"] == removed["event"] == "Organization.Membership.Updated"
    assert added["organizationId"] == GLOBEX
    assert added["addedUserIds"] == [BOB, CAROL]
    assert "removedUserIds" not in added
    assert removed["organizationId"] == ACME
    assert removed["removedUserIds"] == [BOB]
    assert "addedUserIds" not in removed
    assert "roles" not in json.dumps(added) + json.dumps(removed)


def test_no_webhook_when_a_members_role_changes(logto: DevProvider, receiver: Receiver) -> None:
    bob = logto.sign_in_tokens("bob", f"{BASE} read:data invite:member", [ORGANIZATIONS_RESOURCE])

    logto.set_organization_roles(ACME, BOB, ["admin"])

    assert receiver.received == []
    assert logto.webhooks() == []
    # The refreshed ID token shows it; the permissions follow within what the sign-in got.
    refreshed = logto.refresh(bob["refresh_token"])
    assert f"{ACME}:admin" in claims(refreshed.json()["id_token"])["organization_roles"]
    assert scope_of(logto.refresh(bob["refresh_token"], organization_id=ACME)) == "read:data"


def test_user_webhooks_are_the_events_the_app_acts_on(
    logto: DevProvider, wsgi_site: Site, settings: Any
) -> None:
    settings.LOGTO = {
        **settings.LOGTO,
        "ENDPOINT": logto.url,
        "WEBHOOK_SIGNING_KEY": WEBHOOK_SIGNING_KEY,
    }
    wsgi_site.sign_in(logto, "alice")
    assert alice_user().is_active
    shape = json.loads(sample("webhook_user_created.json")["raw_body"])["data"]

    logto.set_user_state(ALICE, "suspend")
    triggered = logto.trigger_webhook("User.Data.Updated", user_id=ALICE)

    [suspended] = logto.webhooks("User.SuspensionStatus.Updated")
    data = json.loads(suspended["body"])["data"]
    assert set(data) == set(shape)
    assert data["id"] == ALICE
    assert data["isSuspended"] is True
    assert json.loads(triggered["body"])["data"]["id"] == ALICE
    response = wsgi_site.post(
        "/logto/webhooks/",
        suspended["body"].encode(),
        content_type="application/json",
        headers={"logto-signature-sha-256": suspended["signature"]},
    )
    assert response.status_code == 200, response.content
    assert not alice_user().is_active
