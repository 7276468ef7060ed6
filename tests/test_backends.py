from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model

from logto_auth import checks
from logto_auth.backends import LogtoBackend
from logto_auth.models import LogtoIdentity
from tests.conftest import Site
from tests.devprovider import DevProvider

pytestmark = pytest.mark.django_db
User = get_user_model()


def claims(**changes: Any) -> dict[str, Any]:
    base = {
        "sub": "u1alice0000a",
        "username": "alice",
        "name": "Alice Admin",
        "email": "alice@example.com",
        "email_verified": True,
        "roles": ["admin"],
    }
    return {**base, **changes}


def test_first_sign_in_creates_user_with_unusable_password() -> None:
    user = authenticate(None, logto_claims=claims())

    assert user is not None
    assert user.username == "alice"
    assert user.get_full_name() == "Alice Admin"
    assert user.email == "alice@example.com"
    assert not user.has_usable_password()
    identity = LogtoIdentity.objects.get(sub="u1alice0000a")
    assert identity.user == user
    assert identity.synced_at is not None
    assert identity.claims["roles"] == ["admin"]


def test_later_sign_in_updates_name_and_email() -> None:
    first = authenticate(None, logto_claims=claims())

    again = authenticate(None, logto_claims=claims(name="Alice A.", email="a@example.org"))

    assert first is not None
    assert again is not None
    assert again.pk == first.pk
    again.refresh_from_db()
    assert again.first_name == "Alice A."
    assert again.email == "a@example.org"
    assert User.objects.count() == 1


def test_null_profile_claims_become_empty_strings() -> None:
    user = authenticate(None, logto_claims=claims(name=None, email=None, username=None))

    assert user is not None
    assert user.first_name == ""
    assert user.email == ""
    assert user.username == "logto"


def test_users_are_matched_by_sub_never_by_email_or_username() -> None:
    existing = User.objects.create_user("alice", email="alice@example.com", password="x")

    user = authenticate(None, logto_claims=claims())

    assert user is not None
    assert user.pk != existing.pk
    assert user.username == "alice-u1alice0000a"
    existing.refresh_from_db()
    assert existing.check_password("x")


def test_inactive_user_cannot_sign_in() -> None:
    user = authenticate(None, logto_claims=claims())
    assert user is not None
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert authenticate(None, logto_claims=claims()) is None


def test_unknown_user_refused_when_creation_is_off() -> None:
    class ExistingOnly(LogtoBackend):
        create_unknown_user = False

    assert ExistingOnly().authenticate(None, logto_claims=claims()) is None
    assert not User.objects.exists()


def test_password_credentials_are_not_for_this_backend() -> None:
    User.objects.create_user("alice", password="x")
    assert LogtoBackend().authenticate(None) is None
    # Django's authenticate() skips backends whose signature does not fit.
    assert authenticate(None, username="alice", password="x") is not None


def test_long_values_are_truncated_to_the_fields() -> None:
    user = authenticate(None, logto_claims=claims(name="N" * 400, username="u" * 400))

    assert user is not None
    assert len(user.first_name) == 150
    assert len(user.username) == 150


class ExistingUsersOnly(LogtoBackend):
    create_unknown_user = False


def test_unknown_user_gets_a_clear_page_when_creation_is_off(
    settings: Any, wsgi_site: Site, dev_provider: DevProvider
) -> None:
    settings.AUTHENTICATION_BACKENDS = ["tests.test_backends.ExistingUsersOnly"]

    response = wsgi_site.sign_in(dev_provider, "carol")

    assert response.status_code == 403
    assert b"may not sign in to this site" in response.content
    assert "_auth_user_id" not in wsgi_site.session
    assert not User.objects.exists()


def test_subclass_of_the_backend_satisfies_the_check(settings: Any) -> None:
    settings.AUTHENTICATION_BACKENDS = ["tests.test_backends.ExistingUsersOnly"]
    assert checks.check_backend() == []


def test_an_unverified_email_is_not_copied() -> None:
    user = authenticate(None, logto_claims=claims(email="victim@example.com", email_verified=False))
    assert user is not None
    assert user.email == ""

    again = authenticate(None, logto_claims=claims(email="alice@example.com"))
    assert again is not None
    again = authenticate(
        None, logto_claims=claims(email="mallory@example.com", email_verified=None)
    )
    assert again is not None
    again.refresh_from_db()
    assert again.email == "alice@example.com"


def test_usernames_registered_ahead_never_block_a_first_sign_in() -> None:
    sub = "u1alice0000a"
    taken = {"alice", f"alice-{sub}", sub}
    for name in taken:
        User.objects.create_user(name, password="x")

    user = authenticate(None, logto_claims=claims())

    assert user is not None
    assert user.username.startswith("alice-")
    assert user.username not in taken
    assert LogtoIdentity.objects.get(sub=sub).user == user


def test_a_username_taken_between_the_check_and_the_insert_is_not_a_500(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    candidates = LogtoBackend.username_candidates
    raced: list[str] = []

    def racing(self: LogtoBackend, logto_claims: dict[str, Any]) -> Any:
        for candidate in candidates(self, logto_claims):
            if not raced:  # another sign-in takes the name right after we checked it
                User.objects.create_user(candidate, password="x")
                raced.append(candidate)
            yield candidate

    monkeypatch.setattr(LogtoBackend, "username_candidates", racing)

    user = authenticate(None, logto_claims=claims())

    assert raced == ["alice"]
    assert user is not None
    assert user.username == "alice-u1alice0000a"
