"""The demo's URLs plus views protected in the other ways the tests need."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, path
from django.utils.decorators import method_decorator
from django.views import View
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as demo
from logto_auth.decorators import logto_token_required
from logto_auth.drf import HasLogtoOrganization, HasLogtoScopes, LogtoTokenAuthentication
from logto_auth.mixins import LogtoTokenRequiredMixin


def whoami(request: HttpRequest) -> JsonResponse:
    user = request.user
    return JsonResponse(
        {
            "sub": request.logto.sub,  # type: ignore[attr-defined]
            "username": user.get_username() if user.is_authenticated else None,
        }
    )


@logto_token_required(scopes=["read:profile"])
async def async_whoami(request: HttpRequest) -> JsonResponse:
    user = await request.auser()
    return JsonResponse(
        {
            "sub": request.logto.sub,  # type: ignore[attr-defined]
            "username": user.get_username() if user.is_authenticated else None,
        }
    )


class AsyncMixinView(LogtoTokenRequiredMixin, View):
    http_method_names = ["get"]
    required_scopes = ["read:profile"]

    async def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"sub": request.logto.sub})  # type: ignore[attr-defined]


class MixinView(LogtoTokenRequiredMixin, View):
    http_method_names = ["get", "post"]
    required_scopes = ["read:profile"]

    def get(self, request: HttpRequest) -> JsonResponse:
        return whoami(request)

    post = get


@method_decorator(login_not_required, name="dispatch")
class DrfView(APIView):  # type: ignore[misc]
    authentication_classes = [LogtoTokenAuthentication]
    permission_classes = [HasLogtoScopes]
    renderer_classes = [JSONRenderer]
    required_scopes = {"GET": ["read:profile"], "POST": ["write:profile"]}

    def get(self, request: Any) -> Response:
        user = request.user
        return Response(
            {
                "sub": request.logto.sub,
                "username": user.get_username() if user.is_authenticated else None,
            }
        )

    # Methods required_scopes leaves out: no token may use them.
    post = put = patch = delete = get


@method_decorator(login_not_required, name="dispatch")
class DrfOrganizationView(APIView):  # type: ignore[misc]
    authentication_classes = [LogtoTokenAuthentication]
    permission_classes = [HasLogtoOrganization]
    renderer_classes = [JSONRenderer]
    logto_organization = True

    def get(self, request: Any, organization_id: str) -> Response:
        return Response({"organization_id": request.auth.organization_id})


def caller(request: HttpRequest, **kwargs: Any) -> JsonResponse:
    token = request.logto  # type: ignore[attr-defined]
    return JsonResponse({"sub": token.sub, "organization_id": token.organization_id})


async def async_caller(request: HttpRequest, **kwargs: Any) -> JsonResponse:
    return caller(request)


def marker(request: HttpRequest) -> JsonResponse:
    """What the token's user carries in: a mark an earlier request left on its user object,
    and a permission (through Django's per-object permission cache); then marks it."""
    user: Any = request.user
    answer = {"had_mark": hasattr(user, "marked"), "can": user.has_perm("auth.view_group")}
    user.marked = True
    return JsonResponse(answer)


def meddler(request: HttpRequest) -> JsonResponse:
    """A view that edits the claims of its token (a bug of the adopter's, say)."""
    request.logto.claims["scope"] = "read:profile write:profile"  # type: ignore[attr-defined]
    return whoami(request)


def one_policy(
    prefix: str, scopes: list[str] | dict[str, list[str]], organization: bool
) -> list[URLPattern]:
    """The same protection four ways: decorator, mixin (sync and async view), DRF."""

    class Protected(LogtoTokenRequiredMixin, View):
        http_method_names = ["get", "post", "head", "options"]
        required_scopes = scopes
        logto_organization = organization

    class Mixin(Protected):
        get = post = staticmethod(caller)

    class AsyncMixin(Protected):
        get = post = staticmethod(async_caller)

    @method_decorator(login_not_required, name="dispatch")
    class Drf(APIView):  # type: ignore[misc]
        # HasLogtoScopes alone, even for organizations: authentication holds the policy.
        authentication_classes = [LogtoTokenAuthentication]
        permission_classes = [HasLogtoScopes]
        renderer_classes = [JSONRenderer]
        required_scopes = scopes
        logto_organization = organization

        def get(self, request: Any, **kwargs: Any) -> Response:
            token = request.auth
            return Response({"sub": token.sub, "organization_id": token.organization_id})

        post = get

    decorator = logto_token_required(scopes=scopes, organization=organization)
    url = "<str:organization_id>/" if organization else ""
    return [
        path(f"{prefix}/decorator/{url}", decorator(caller)),
        path(f"{prefix}/mixin/{url}", Mixin.as_view()),
        path(f"{prefix}/async-mixin/{url}", AsyncMixin.as_view()),
        path(f"{prefix}/drf/{url}", Drf.as_view()),
    ]


API = "http://127.0.0.1:8000/api"
# Scopes by method: a method left out is refused, an empty list leaves one open.
BY_METHOD = {"GET": ["read:profile"], "POST": ["write:profile"], "OPTIONS": []}

urlpatterns = [
    *demo,
    *one_policy("t/one/api", ["read:profile"], organization=False),
    # Logto's organization tokens carry no scope in the dev provider.
    *one_policy("t/one/organization", [], organization=True),
    *one_policy("t/one/method", BY_METHOD, organization=False),
    path("t/write/", logto_token_required(scopes=["write:profile"])(whoami)),
    path("t/bare/", logto_token_required(whoami)),
    path("t/create/", logto_token_required(create_user=True)(whoami)),
    path("t/other-api/", logto_token_required(resource="https://other.example/api")(whoami)),
    path(
        "t/organization-api/<str:organization_id>/",
        logto_token_required(organization=True, resource=API)(caller),
    ),
    # No organization in the URL: any organization the token is for.
    path("t/any-organization/", logto_token_required(organization=True)(caller)),
    path("t/meddle/", logto_token_required(meddler)),
    path("t/mark/", logto_token_required(marker)),
    path("t/mixin/", MixinView.as_view()),
    path("t/async/", async_whoami),
    path("t/async-mixin/", AsyncMixinView.as_view()),
    path("t/drf/", DrfView.as_view()),
    path("t/drf/organizations/<str:organization_id>/", DrfOrganizationView.as_view()),
]
