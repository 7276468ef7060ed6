"""An admin site whose login goes through Logto.

Use it by replacing ``"django.contrib.admin"`` with ``"logto_auth.apps.LogtoAdminConfig"``
in ``INSTALLED_APPS``, or mix ``LogtoAdminSiteMixin`` into your own ``AdminSite``.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from logto_auth import _flow
from logto_auth._errors import error_response
from logto_auth.conf import logto_settings
from logto_auth.exceptions import LogtoError

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

__all__ = ["LogtoAdminSite", "LogtoAdminSiteMixin"]


class LogtoAdminSiteMixin:
    """Send admin logins to Logto; show a clear page to users without staff rights."""

    name: str
    login_template: str | None

    @method_decorator(never_cache)
    @method_decorator(login_not_required)
    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        index = reverse("admin:index", current_app=self.name)
        if request.user.is_authenticated:
            if self.has_permission(request):  # type: ignore[attr-defined]
                return HttpResponseRedirect(index)
            # Not a login form: signing in again as the same user would loop back here.
            return render(request, "logto_auth/admin_no_access.html", {"site": self}, status=403)
        if logto_settings.admin_password_login:
            context = {**(extra_context or {}), "logto_sign_in_url": self.sign_in_url(request)}
            return super().login(request, context)  # type: ignore[misc, no-any-return]
        return HttpResponseRedirect(self.sign_in_url(request))

    def sign_in_url(self, request: HttpRequest) -> str:
        """Return the Logto sign-in URL for this admin, keeping ``next``."""
        params = {"next": request.GET.get("next") or reverse("admin:index", current_app=self.name)}
        if logto_settings.admin_direct_sign_in:
            params["direct_sign_in"] = logto_settings.admin_direct_sign_in
        return f"{reverse('logto_auth:sign_in')}?{urllib.parse.urlencode(params)}"

    def logout(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method != "POST":
            # Signing out changes state: only a CSRF-protected POST does it.
            return render(request, "logto_auth/sign_out.html")
        # Ending only the Django session would leave the Logto one signed in.
        try:
            return HttpResponseRedirect(_flow.sign_out(request))
        except LogtoError as error:
            return error_response(request, error)


class LogtoAdminSite(LogtoAdminSiteMixin, admin.AdminSite):  # type: ignore[misc]
    """The default admin site, with its login through Logto."""

    # Used only with LOGTO['ADMIN_PASSWORD_LOGIN']: Django's form plus a Logto button.
    login_template = "logto_auth/admin_login.html"
