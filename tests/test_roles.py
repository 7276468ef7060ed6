"""The role mapping rules, applied by the backend to real users and groups."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group

from logto_auth._roles import organization_roles_of, rights_for, roles_of
from logto_auth.models import LogtoMembership
from logto_auth.signals import logto_user_synced
from tests.conftest import PrivateProvider, Site

pytestmark = pytest.mark.django_db
ACME = "acme4p9x2k7z"


@pytest.fixture(autouse=True)
def mapping(settings: Any) -> None:
    settings.LOGTO = {
        **settings.LOGTO,
        "ROLES": {
            "admin": {"is_staff": True, "is_superuser": True},
            "staff": {"is_staff": True, "groups": ["Staff"]},
            "editor": {"groups": ["Editors", "Staff"]},
        },
        "ORGANIZATION_ROLES": {
            f"{ACME}:admin": {"groups": ["Acme admins"]},
            "*:billing": {"groups": ["Billing"]},
        },
    }
    for name in ("Staff", "Editors", "Acme admins", "Billing", "Site-managed"):
        Group.objects.get_or_create(name=name)


def sign_in(**claims: Any) -> Any:
    user = authenticate(None, logto_claims={"sub": "u1bob0000000", "username": "bob", **claims})
    assert user is not None
    user.refresh_from_db()
    return user


def groups(user: Any) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_roles_give_flags_and_groups() -> None:
    admin = sign_in(sub="a", username="alice", roles=["admin"])
    staff = sign_in(roles=["staff", "unmapped"])

    assert admin.is_staff
    assert admin.is_superuser
    assert groups(admin) == set()
    assert staff.is_staff
    assert not staff.is_superuser
    assert groups(staff) == {"Staff"}


def test_removed_role_removes_its_rights_at_next_sign_in() -> None:
    sign_in(roles=["admin", "editor"])

    user = sign_in(roles=["editor"])

    assert not user.is_staff
    assert not user.is_superuser
    assert groups(user) == {"Editors", "Staff"}


def test_empty_roles_remove_every_mapped_right_but_not_site_groups() -> None:
    user = sign_in(roles=["staff"])
    user.groups.add(Group.objects.get(name="Site-managed"))

    user = sign_in(roles=[])

    assert not user.is_staff
    assert groups(user) == {"Site-managed"}


def test_absent_roles_claim_leaves_rights_untouched(caplog: pytest.LogCaptureFixture) -> None:
    sign_in(roles=["staff"])

    user = sign_in()

    assert user.is_staff
    assert groups(user) == {"Staff"}
    assert "No roles claim" in caplog.text


def test_roles_claim_of_the_wrong_type_is_treated_as_absent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sign_in(roles=["staff"])

    user = sign_in(roles="admin")

    assert user.is_staff
    assert not user.is_superuser
    assert "malformed roles claim" in caplog.text


def test_flags_no_mapping_names_are_never_touched(settings: Any) -> None:
    settings.LOGTO = {
        **settings.LOGTO,
        "ROLES": {"editor": {"groups": ["Editors"]}},
        "ORGANIZATION_ROLES": {},
    }
    user = sign_in(roles=[])
    get_user_model().objects.filter(pk=user.pk).update(is_staff=True)

    user = sign_in(roles=["editor"])

    assert user.is_staff
    assert groups(user) == {"Editors"}


def test_organization_roles_give_groups_and_memberships() -> None:
    user = sign_in(
        roles=[],
        organizations=[ACME, "globex8m3q5t"],
        organization_roles=[f"{ACME}:admin", "globex8m3q5t:billing", "malformed"],
    )

    assert groups(user) == {"Acme admins", "Billing"}
    memberships = {m.organization_id: m.roles for m in LogtoMembership.objects.all()}
    assert memberships == {ACME: ["admin"], "globex8m3q5t": ["billing"]}

    user = sign_in(roles=[], organizations=[ACME], organization_roles=[])

    assert groups(user) == set()
    assert list(LogtoMembership.objects.values_list("organization_id", "roles")) == [(ACME, [])]


def test_mirror_mode_creates_and_syncs_a_group_per_role(settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "ROLE_GROUPS_PREFIX": "logto:"}

    user = sign_in(roles=["staff", "Ops & Support ✓"])
    assert groups(user) == {"Staff", "logto:staff", "logto:Ops & Support ✓"}

    user = sign_in(roles=["staff"])
    assert groups(user) == {"Staff", "logto:staff"}
    assert Group.objects.filter(name="logto:Ops & Support ✓").exists()


def test_role_names_too_long_for_a_group_are_skipped(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.LOGTO = {**settings.LOGTO, "ROLE_GROUPS_PREFIX": "logto:"}

    user = sign_in(roles=["r" * 200, "staff"])

    assert groups(user) == {"Staff", "logto:staff"}
    assert "too long for a group name" in caplog.text


def test_very_long_role_lists(settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "ROLE_GROUPS_PREFIX": "logto:"}
    roles = [f"role-{n}" for n in range(500)]

    user = sign_in(roles=roles)

    assert len(groups(user)) == 500
    user = sign_in(roles=roles[:10])
    assert len(groups(user)) == 10


def test_mapped_group_that_does_not_exist_is_logged_and_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    Group.objects.filter(name="Editors").delete()

    user = sign_in(roles=["editor"])

    assert groups(user) == {"Staff"}
    assert "groups that do not exist: Editors" in caplog.text
    assert not Group.objects.filter(name="Editors").exists()


def test_signal_after_each_sync() -> None:
    received: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    logto_user_synced.connect(receiver)
    try:
        sign_in(roles=["staff"])
        sign_in(roles=[])
    finally:
        logto_user_synced.disconnect(receiver)

    assert [r["created"] for r in received] == [True, False]
    assert received[1]["claims"]["roles"] == []


def test_rights_for_is_pure() -> None:
    rights = rights_for(["admin", "editor"], {ACME: {"admin"}})

    assert rights.flags == {"is_staff": True, "is_superuser": True}
    assert rights.groups == {"Editors", "Staff", "Acme admins"}
    assert rights.manages("Billing")
    assert not rights.manages("Site-managed")


def test_claim_parsers() -> None:
    assert roles_of({"roles": ["a"]}) == ["a"]
    assert roles_of({}) is None
    assert roles_of({"roles": [1]}) is None
    assert organization_roles_of(
        {"organizations": ["o"], "organization_roles": ["o:r", "p:q:s"]}
    ) == {
        "o": {"r"},
        "p": {"q:s"},
    }


# Against the real dev provider: sign-in, userinfo fallback, token refresh


def test_rights_follow_a_role_removed_in_logto_at_the_next_refresh(
    private_provider: PrivateProvider,
) -> None:
    site = Site("wsgi")
    site.sign_in(private_provider, "bob")
    bob = get_user_model().objects.get(username="bob")
    assert bob.is_staff
    assert groups(bob) == {"Staff"}

    private_provider.edit_user("bob", roles=[])
    session = site.session
    session["_logto_accessTokenMap"] = json.dumps({"x": {}})  # expired: the next use refreshes
    session.save()
    assert site.get("/profile/").status_code == 200

    bob.refresh_from_db()
    assert not bob.is_staff
    assert groups(bob) == set()


def test_roles_come_from_userinfo_when_the_id_token_lacks_them(
    userinfo_only_tenant: PrivateProvider,
) -> None:
    provider = userinfo_only_tenant
    site = Site("wsgi")
    site.sign_in(provider, "bob")  # warm-up, so that only the sign-in's calls count
    site.post("/logto/sign-out/")
    before = provider.counters().get("/oidc/me", 0)

    site.sign_in(provider, "bob")

    id_token = jwt.decode(site.session["_logto_idToken"], options={"verify_signature": False})
    assert "roles" not in id_token
    bob = get_user_model().objects.get(username="bob")
    assert bob.is_staff
    assert LogtoMembership.objects.get(identity__user=bob).roles == ["member"]
    assert provider.counters()["/oidc/me"] == before + 1


def test_without_any_mapping_rights_are_not_touched(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.LOGTO = {**settings.LOGTO, "ROLES": {}, "ORGANIZATION_ROLES": {}}
    user = sign_in(roles=["staff"])
    user.groups.add(Group.objects.get(name="Staff"))

    user = sign_in()

    assert groups(user) == {"Staff"}
    assert "No roles claim" not in caplog.text
