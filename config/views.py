"""The demo site's own pages and its API."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required, login_required
from django.http import HttpRequest, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from logto_auth.conf import logto_settings
from logto_auth.decorators import logto_organization_required, logto_token_required
from logto_auth.drf import HasLogtoScopes, LogtoTokenAuthentication

if TYPE_CHECKING:
    from django.http import HttpResponse

    from logto_auth._bearer import LogtoToken


def home(request: HttpRequest) -> HttpResponse:
    # Ends the Logto session only: the site learns of it through back-channel logout.
    provider_sign_out = f"{logto_settings.issuer}/session/end?" + urllib.parse.urlencode(
        {
            "client_id": logto_settings.app_id,
            "post_logout_redirect_uri": request.build_absolute_uri("/"),
        }
    )
    return render(request, "home.html", {"provider_sign_out_url": provider_sign_out})


@logto_organization_required()
def organization(request: HttpRequest, organization_id: str) -> HttpResponse:
    """A member's view of an organization: name, roles and permissions there, and what
    those permissions allow."""
    found = request.logto.get_organization(organization_id)  # type: ignore[attr-defined]
    context = {
        "organization": found,
        "roles": ", ".join(found.roles) or "none",
        "permissions": ", ".join(sorted(found.permissions)) or "none",
        # Without it organization tokens carry no permissions: the page says how to ask.
        "asks_for_permissions": bool(logto_settings.organization_permissions),
    }
    return render(request, "organization.html", context)


# Claims that hold a time: seconds since the epoch, or milliseconds in Logto's own
# (created_at, updated_at).
TIME_CLAIMS = {"iat", "exp", "auth_time", "nbf", "created_at", "updated_at", "last_synced"}


def readable(claims: dict[str, Any]) -> str:
    """Claims as indented JSON, times spelled out as UTC dates."""

    def spell(name: str, value: Any) -> Any:
        if name in TIME_CLAIMS and isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if value > 10**11 else value
            when = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            return f"{when} ({value})"
        return value

    return json.dumps(
        {name: spell(name, value) for name, value in claims.items()},
        indent=2,
        ensure_ascii=False,
        sort_keys=True,
    )


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user_info = request.logto.fetch_user_info()  # type: ignore[attr-defined]
    api_answer = call_api_me(request)
    context = {
        "claims_json": readable(request.logto.claims),  # type: ignore[attr-defined]
        "user_info_json": readable(user_info),
        "api_answer": api_answer,
        "api_json": readable(api_answer["body"]),
        "api_resource": settings.LOGTO_API_RESOURCE,
    }
    return render(request, "profile.html", context)


def call_api_me(request: HttpRequest) -> dict[str, Any]:
    """Call ``/api/me/`` as a client of the API would, with the user's access token.

    In-process: a request to ``api_me`` made here, through the same decorator a remote
    client meets. A call over HTTP to this very site would tie up a second worker (and
    deadlock a single-worker server) to learn nothing more.
    """
    if not settings.LOGTO_API_RESOURCE:  # a tenant without the demo's API resource
        return {"status": None, "body": {}, "configured": False}
    token = request.logto.get_access_token(settings.LOGTO_API_RESOURCE)  # type: ignore[attr-defined]
    if token is None:  # signed in with a password, not through Logto
        return {"status": None, "body": {}, "configured": True}
    api_request = HttpRequest()
    api_request.method = "GET"
    api_request.path = api_request.path_info = "/api/me/"
    api_request.META = {**request.META, "HTTP_AUTHORIZATION": f"Bearer {token}"}
    api_request.META.pop("HTTP_COOKIE", None)
    response = api_me(api_request)
    body = json.loads(response.content)
    return {"status": response.status_code, "body": body, "configured": True}


def _caller(token: LogtoToken) -> dict[str, Any]:
    return {
        "sub": token.sub,
        "scopes": sorted(token.scopes),
        "client_id": token.client_id,
        "organization_id": token.organization_id,
        "machine": token.is_machine,
    }


@logto_token_required
def api_me(request: HttpRequest) -> JsonResponse:
    """The caller of the API, as its Logto access token (any, for the API) says."""
    return JsonResponse(_caller(request.logto))  # type: ignore[attr-defined]


@logto_token_required(organization=True)
def api_organization(request: HttpRequest, organization_id: str) -> JsonResponse:
    """The caller, for an organization token of the organization in the URL."""
    return JsonResponse(_caller(request.logto))  # type: ignore[attr-defined]


# A bearer-token API answers 401 itself, never a redirect from LoginRequiredMiddleware.
@method_decorator(login_not_required, name="dispatch")
class DrfMeView(APIView):  # type: ignore[misc]
    """``/api/me/`` again, through Django REST framework."""

    authentication_classes = [LogtoTokenAuthentication]
    permission_classes = [HasLogtoScopes]
    renderer_classes = [JSONRenderer]
    required_scopes = ["read:profile"]

    def get(self, request: Any) -> Response:
        user = request.user
        username = user.get_username() if user.is_authenticated else None
        return Response({**_caller(request.auth), "username": username})
