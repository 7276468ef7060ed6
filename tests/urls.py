"""The demo's URLs plus views guarded by the access helpers, and async views, for tests."""

from typing import Any

from django.core.exceptions import SynchronousOnlyOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views import View

from config.urls import urlpatterns as demo
from logto_auth.decorators import logto_role_required
from logto_auth.mixins import LogtoRoleRequiredMixin

API = "http://127.0.0.1:8000/api"


def ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


async def async_ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


class AcmeAdminView(LogtoRoleRequiredMixin, View):
    logto_organization_roles = ("acme4p9x2k7z:admin",)

    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")


class AsyncAcmeAdminView(LogtoRoleRequiredMixin, View):
    logto_organization_roles = ("acme4p9x2k7z:admin",)

    async def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")


async def async_claims(request: HttpRequest) -> JsonResponse:
    logto: Any = request.logto  # type: ignore[attr-defined]
    claims = await logto.aget_claims()
    # The session is loaded now: the sync properties read it without I/O.
    return JsonResponse(
        {
            "authenticated": await logto.ais_authenticated(),
            "claims": claims,
            "sub": logto.sub,
            "is_authenticated": logto.is_authenticated,
        }
    )


async def async_token(request: HttpRequest) -> JsonResponse:
    logto: Any = request.logto  # type: ignore[attr-defined]
    resource = request.GET.get("resource", "")
    organization = request.GET.get("organization")
    if organization is not None:
        token = await logto.aget_organization_token(organization)
        return JsonResponse({"token": token})
    token = await logto.aget_access_token(resource)
    token_claims = await logto.aget_access_token_claims(resource) if resource else {}
    return JsonResponse({"token": token, "claims": token_claims})


async def async_user_info(request: HttpRequest) -> JsonResponse:
    return JsonResponse(await request.logto.afetch_user_info())  # type: ignore[attr-defined]


async def async_unloaded(request: HttpRequest) -> HttpResponse:
    try:
        return HttpResponse(str(request.logto.sub))  # type: ignore[attr-defined]
    except SynchronousOnlyOperation as error:
        return HttpResponse(str(error), status=500)


urlpatterns = [
    *demo,
    path("need/admin/", logto_role_required(roles=["admin"])(ok)),
    path("need/any-org-member/", logto_role_required(organization_roles=["*:member"])(ok)),
    path("need/acme-admin/", AcmeAdminView.as_view()),
    path("need/read/", logto_role_required(scopes=["read:profile"], resource=API)(ok)),
    path("need/write/", logto_role_required(scopes=["write:profile"], resource=API)(ok)),
    path("async/need/admin/", logto_role_required(roles=["admin"])(async_ok)),
    path("async/need/acme-admin/", AsyncAcmeAdminView.as_view()),
    path("async/need/read/", logto_role_required(scopes=["read:profile"], resource=API)(async_ok)),
    path(
        "async/need/write/", logto_role_required(scopes=["write:profile"], resource=API)(async_ok)
    ),
    path("async/claims/", async_claims),
    path("async/token/", async_token),
    path("async/userinfo/", async_user_info),
    path("async/unloaded/", async_unloaded),
]
