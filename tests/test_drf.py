"""Django REST framework classes: ``logto_auth.drf``."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from logto_auth._provider import provider
from tests.conftest import Site
from tests.devprovider import DevProvider
from tests.test_api import ACME, API, GLOBEX, access_token, bearer, challenge

pytestmark = pytest.mark.urls("tests.api_urls")


def test_scopes_by_method(wsgi_site: Site, dev_provider: DevProvider) -> None:
    reader = bearer(dev_provider.machine_token(API, "read:profile"))

    assert wsgi_site.get("/t/drf/", **reader).status_code == 200
    refused = wsgi_site.post("/t/drf/", **reader)
    assert refused.status_code == 403
    assert challenge(refused) == (
        'Bearer error="insufficient_scope", error_description="Missing scope: write:profile", '
        'scope="write:profile"'
    )
    assert refused.json()["error"] == "insufficient_scope"
    writer = bearer(dev_provider.machine_token(API, "write:profile"))
    assert wsgi_site.post("/t/drf/", **writer).status_code == 200


def test_head_needs_the_scopes_of_get(db: None, dev_provider: DevProvider) -> None:
    writer = bearer(dev_provider.machine_token(API, "write:profile"))
    reader = bearer(dev_provider.machine_token(API, "read:profile"))

    refused = Client().generic("HEAD", "/t/drf/", **writer)

    assert refused.status_code == 403
    assert challenge(refused).startswith('Bearer error="insufficient_scope"')
    assert Client().generic("HEAD", "/t/drf/", **reader).status_code == 200


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
def test_method_left_out_of_required_scopes_is_refused_to_every_token(
    db: None, dev_provider: DevProvider, method: str
) -> None:
    everything = bearer(dev_provider.machine_token(API, "read:profile write:profile"))

    response = Client().generic(method, "/t/drf/", **everything)

    assert response.status_code == 403
    assert challenge(response).startswith('Bearer error="insufficient_scope"')
    assert response.json()["error"] == "insufficient_scope"


def test_user_token_authenticates_the_django_user(site: Site, dev_provider: DevProvider) -> None:
    site.sign_in(dev_provider, "alice")

    response = Site(site.kind).get("/t/drf/", **bearer(site.access_token(API)))

    assert response.json() == {"sub": "alice0k7x2qm", "username": "alice"}


def test_no_credentials_is_401_with_a_bare_challenge(wsgi_site: Site) -> None:
    response = wsgi_site.get("/t/drf/")

    assert response.status_code == 401
    assert challenge(response) == "Bearer"


def test_organization_permission(site: Site, dev_provider: DevProvider) -> None:
    site.sign_in(dev_provider, "alice")
    token = bearer(site.access_token(organization_id=ACME))
    client = Site(site.kind)

    own = client.get(f"/t/drf/organizations/{ACME}/", **token)
    other = client.get(f"/t/drf/organizations/{GLOBEX}/", **token)
    api_token = client.get(f"/t/drf/organizations/{ACME}/", **bearer(site.access_token(API)))

    assert own.status_code == 200
    assert own.json() == {"organization_id": ACME}
    assert other.status_code == 403
    assert 'error="insufficient_scope"' in challenge(other)
    assert api_token.status_code == 401
    assert 'error="invalid_token"' in challenge(api_token)


def test_organization_view_checks_the_url_organization_without_has_logto_organization(
    site: Site, dev_provider: DevProvider
) -> None:
    # The view lists HasLogtoScopes only: authentication itself must hold the policy.
    site.sign_in(dev_provider, "alice")
    token = bearer(site.access_token(organization_id=ACME))
    client = Site(site.kind)

    own = client.get(f"/t/one/organization/drf/{ACME}/", **token)
    other = client.get(f"/t/one/organization/drf/{GLOBEX}/", **token)

    assert own.status_code == 200
    assert own.json() == {"sub": "alice0k7x2qm", "organization_id": ACME}
    assert other.status_code == 403
    assert challenge(other) == (
        'Bearer error="insufficient_scope", '
        'error_description="The token is for another organization."'
    )


@pytest.mark.usefixtures("hostile_provider")
def test_two_authorization_headers_are_400(wsgi_site: Site) -> None:
    token = access_token()

    response = wsgi_site.get("/t/drf/", HTTP_AUTHORIZATION=f"Bearer {token},Bearer {token}")

    assert response.status_code == 400
    assert challenge(response).startswith('Bearer error="invalid_request"')


def test_provider_down_is_503(settings: Any, wsgi_site: Site) -> None:
    settings.LOGTO = {**settings.LOGTO, "ENDPOINT": "http://127.0.0.1:9", "TIMEOUT": 2}
    provider().forget()

    response = wsgi_site.get("/t/drf/", **bearer(access_token()))

    assert response.status_code == 503
    assert response.json() == {"error": "temporarily_unavailable"}
