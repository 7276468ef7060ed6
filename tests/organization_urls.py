"""The demo's URLs plus organization-scoped views of every kind, for the organization tests."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views import View
from rest_framework.authentication import SessionAuthentication
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as demo
from logto_auth.decorators import logto_organization_required
from logto_auth.drf import IsLogtoOrganizationMember
from logto_auth.mixins import LogtoOrganizationRequiredMixin

INVITE = "invite:member"


def named(request: HttpRequest, organization_id: str = "") -> HttpResponse:
    found = request.logto.get_organization(organization_id or None)  # type: ignore[attr-defined]
    return HttpResponse(f"ok {found.name}")


async def async_named(request: HttpRequest, organization_id: str = "") -> HttpResponse:
    logto: Any = request.logto  # type: ignore[attr-defined]
    found = await logto.aget_organization(organization_id or None)
    return HttpResponse(f"ok {found.name} {sorted(await found.aget_permissions())}")


class InviteView(LogtoOrganizationRequiredMixin, View):
    organization_permissions = (INVITE,)

    def get(self, request: HttpRequest, organization_id: str) -> HttpResponse:
        return HttpResponse("ok")


class AsyncInviteView(LogtoOrganizationRequiredMixin, View):
    organization_permissions = (INVITE,)

    async def get(self, request: HttpRequest, organization_id: str) -> HttpResponse:
        return HttpResponse("ok")


class DrfInviteView(APIView):  # type: ignore[misc]
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsLogtoOrganizationMember]
    renderer_classes = [JSONRenderer]
    organization_permissions = [INVITE]

    def get(self, request: Any, organization_id: str) -> Response:
        return Response({"ok": True})


def permissions(request: HttpRequest, organization_id: str) -> JsonResponse:
    """``has_perm`` for the organization given as its id and as the object."""
    user: Any = request.user
    found = request.logto.get_organization(organization_id)  # type: ignore[attr-defined]
    perm = request.GET["perm"]
    return JsonResponse(
        {"id": user.has_perm(perm, organization_id), "object": user.has_perm(perm, found)}
    )


async def async_permissions(request: HttpRequest, organization_id: str) -> JsonResponse:
    user: Any = await request.auser()
    perm = request.GET["perm"]
    return JsonResponse({"id": await user.ahas_perm(perm, organization_id)})


urlpatterns = [
    *demo,
    path("o/<str:organization_id>/member/", logto_organization_required()(named)),
    path("o/<str:organization_id>/admin/", logto_organization_required(roles=["admin"])(named)),
    path(
        "o/<str:organization_id>/invite/",
        logto_organization_required(permissions=[INVITE])(named),
    ),
    path(
        "o/<str:organization_id>/async/invite/",
        logto_organization_required(permissions=[INVITE])(async_named),
    ),
    path("o/current/", logto_organization_required()(named)),
    path("o/<str:organization_id>/mixin/", InviteView.as_view()),
    path("o/<str:organization_id>/async/mixin/", AsyncInviteView.as_view()),
    path("o/<str:organization_id>/drf/", DrfInviteView.as_view()),
    path("o/<str:organization_id>/perm/", permissions),
    path("o/<str:organization_id>/async/perm/", async_permissions),
]
