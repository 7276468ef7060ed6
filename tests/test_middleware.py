from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import RequestFactory

from logto_auth._provider import revoke
from logto_auth._sessions import CHECKED_KEY
from logto_auth.exceptions import ProviderUnavailable
from logto_auth.middleware import LogtoMiddleware
from tests.conftest import Site
from tests.devprovider import DevProvider


def test_without_session_middleware_names_the_fix() -> None:
    middleware = LogtoMiddleware(lambda request: HttpResponse())

    with pytest.raises(ImproperlyConfigured, match="SessionMiddleware"):
        middleware(RequestFactory().get("/"))


def test_logto_errors_in_views_become_their_page(settings: Any) -> None:
    middleware = LogtoMiddleware(lambda request: HttpResponse())
    request = RequestFactory().get("/")
    request.session = {}  # type: ignore[assignment]

    response = middleware.process_exception(request, ProviderUnavailable("down"))

    assert response is not None
    assert response.status_code == 503
    assert b"down" in response.content
    assert middleware.process_exception(request, ValueError("other")) is None


@pytest.fixture
def revalidating(site: Site, dev_provider: DevProvider, settings: Any) -> Site:
    """Alice signed in, with revalidation on and her last check long ago."""
    settings.LOGTO = {**settings.LOGTO, "REVALIDATE_INTERVAL": 300}
    site.sign_in(dev_provider, "alice")
    session = site.session
    session[CHECKED_KEY] = 0
    session.save()
    return site


def test_revalidation_keeps_a_live_session_with_one_provider_call(
    revalidating: Site, dev_provider: DevProvider
) -> None:
    before = dev_provider.counters().get("/oidc/token/introspection", 0)

    assert b"Authenticated" in revalidating.get("/").content
    assert b"Authenticated" in revalidating.get("/").content

    assert dev_provider.counters()["/oidc/token/introspection"] == before + 1


def test_revalidation_ends_a_session_whose_refresh_token_was_revoked(revalidating: Site) -> None:
    revoke(revalidating.session["_logto_refreshToken"])

    assert b"Not authenticated" in revalidating.get("/").content
