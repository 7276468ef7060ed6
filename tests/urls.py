"""The demo's URLs plus views guarded by the access helpers, for tests."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views import View

from config.urls import urlpatterns as demo
from logto_auth.access import LogtoRoleRequiredMixin, logto_role_required

API = "http://127.0.0.1:8000/api"


def ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


class AcmeAdminView(LogtoRoleRequiredMixin, View):
    logto_organization_roles = ("acme4p9x2k7z:admin",)

    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")


urlpatterns = [
    *demo,
    path("need/admin/", logto_role_required(roles=["admin"])(ok)),
    path("need/any-org-member/", logto_role_required(organization_roles=["*:member"])(ok)),
    path("need/acme-admin/", AcmeAdminView.as_view()),
    path("need/read/", logto_role_required(scopes=["read:profile"], resource=API)(ok)),
    path("need/write/", logto_role_required(scopes=["write:profile"], resource=API)(ok)),
]
