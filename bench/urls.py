"""The demo's URLs plus mozilla-django-oidc's, so both can run side by side, Django's own
password login for the bare floor, and the small pages the load test's users ask for (the
same two for each relying party: one that reads who the user is, one that reads an access
token for the API; the bare floor has no token and reads who the user is twice)."""

from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, login
from django.contrib.auth.views import LogoutView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.middleware.csrf import get_token
from django.urls import include, path
from django.views.decorators.csrf import csrf_protect
from mozilla_django_oidc.contrib.drf import OIDCAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as demo

UNAUTHORIZED = {"error": "not signed in"}


class MozillaMeView(APIView):  # type: ignore[misc]
    """The demo's DRF view, protected by mozilla-django-oidc instead."""

    authentication_classes = [OIDCAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]

    def get(self, request: Any) -> Response:
        return Response({"username": request.user.get_username()})


class CeilingView(APIView):  # type: ignore[misc]
    """The same DRF view with no authentication at all: what no authenticator can beat on
    this stack (``bench/apicpu.py``'s ceiling)."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    def get(self, request: Any) -> Response:
        return Response({"username": "alice"})


def logto_claims(request: HttpRequest) -> JsonResponse:
    """Who the user is, from ``request.logto`` (sets the CSRF cookie sign-out needs)."""
    claims = request.logto.claims  # type: ignore[attr-defined]
    if not claims:
        return JsonResponse(UNAUTHORIZED, status=401)
    get_token(request)
    return JsonResponse({"sub": claims["sub"], "name": claims.get("name")})


def logto_token(request: HttpRequest) -> JsonResponse:
    """The user's access token for the demo API."""
    token = request.logto.get_access_token(settings.LOGTO_API_RESOURCE)  # type: ignore[attr-defined]
    if token is None:
        return JsonResponse(UNAUTHORIZED, status=401)
    return JsonResponse({"access_token": token})


def whoami(request: HttpRequest) -> JsonResponse:
    """The signed-in user's name, whichever middleware stack runs (``bench/stack.py``)."""
    return JsonResponse({"username": request.user.get_username()})


def mozilla_claims(request: HttpRequest) -> JsonResponse:
    """Who the user is, from ``request.user`` (mozilla-django-oidc keeps no claims)."""
    if not request.user.is_authenticated:
        return JsonResponse(UNAUTHORIZED, status=401)
    get_token(request)
    return JsonResponse({"username": request.user.get_username(), "email": request.user.email})


def mozilla_token(request: HttpRequest) -> JsonResponse:
    """The access token mozilla-django-oidc stored (``OIDC_STORE_ACCESS_TOKEN``)."""
    token = request.session.get("oidc_access_token")
    if not request.user.is_authenticated or not token:
        return JsonResponse(UNAUTHORIZED, status=401)
    return JsonResponse({"access_token": token})


@csrf_protect
def bare_sign_in(request: HttpRequest) -> HttpResponse:
    """Django's own password login (the bare floor): GET sets the CSRF cookie, POST signs in."""
    if request.method == "POST":
        user = authenticate(
            request, username=request.POST.get("username"), password=request.POST.get("password")
        )
        if user is None:
            return JsonResponse(UNAUTHORIZED, status=401)
        login(request, user)
        return HttpResponseRedirect("/")
    get_token(request)
    return JsonResponse({"sign_in": "post username and password"})


urlpatterns = [
    *demo,
    path("bench/bare-sign-in/", bare_sign_in),
    path("bench/bare-sign-out/", LogoutView.as_view(next_page="/")),
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("bench/mozilla-drf/", MozillaMeView.as_view()),
    path("bench/ceiling/", CeilingView.as_view()),
    path("bench/claims/", logto_claims),
    path("bench/token/", logto_token),
    path("bench/whoami/", whoami),
    path("bench/mozilla-claims/", mozilla_claims),
    path("bench/mozilla-token/", mozilla_token),
]
