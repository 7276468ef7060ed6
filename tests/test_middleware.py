from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import RequestFactory

from logto_auth.exceptions import ProviderUnavailable
from logto_auth.middleware import LogtoMiddleware


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
