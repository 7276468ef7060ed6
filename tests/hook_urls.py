"""The demo's URLs with a callback view whose hooks a project overrides, mounted at the
callback's URL before the app's own (as the docs of ``CallbackView`` show)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import path

from config.urls import urlpatterns as demo
from logto_auth import views
from logto_auth.exceptions import LogtoError

SEEN: list[tuple[str, Any]] = []


class HookedCallbackView(views.CallbackView):
    def get_success_url(self, request: HttpRequest, next_url: str) -> str:
        return f"/welcome/?then={next_url}"

    def sign_in_succeeded(
        self, request: HttpRequest, user: Any, claims: dict[str, Any]
    ) -> HttpResponseBase | None:
        SEEN.append(("succeeded", (user.get_username(), claims["sub"])))
        if claims.get("username") == "bob":
            return HttpResponse("Bob goes elsewhere", status=200)
        return None

    def sign_in_failed(self, request: HttpRequest, error: LogtoError) -> HttpResponseBase:
        SEEN.append(("failed", type(error).__name__))
        return HttpResponse(f"Custom failure page ({error.status})", status=error.status)


urlpatterns = [path("logto/callback/", HookedCallbackView.as_view()), *demo]
