"""Sign-in, sign-up, callback and sign-out, the organization switch, and the endpoints
Logto calls: thin views."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import authenticate, login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.db import DatabaseError
from django.http import HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from logto_auth import _flow, _notifications, _organizations
from logto_auth._errors import error_response, notification_response
from logto_auth.exceptions import AccessDenied, LogtoError, ProviderUnavailable, SignInError

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse, HttpResponseBase, QueryDict

__all__ = [
    "BackChannelLogoutView",
    "CallbackView",
    "LogtoView",
    "OrganizationView",
    "ProviderNotificationView",
    "SignInView",
    "SignOutView",
    "SignUpView",
    "WebhookView",
]

logger = logging.getLogger(__name__)

# Logto's sign-in parameters a link to the sign-in view may pass on, with what they accept.
PASS_THROUGH: dict[str, re.Pattern[str]] = {
    "interaction_mode": re.compile(r"signIn|signUp"),
    "first_screen": re.compile(
        r"sign_in|register|reset_password|identifier:sign_in|identifier:register|single_sign_on"
    ),
    "direct_sign_in": re.compile(r"[a-z]+:[\w.:-]{1,128}"),
    "login_hint": re.compile(r"[^\x00-\x1f]{1,256}"),
    "identifier": re.compile(r"(email|phone|username)( (email|phone|username)){0,2}"),
    "organization_id": re.compile(r"[\w-]{1,128}"),
    "ui_locales": re.compile(r"[A-Za-z0-9_ -]{1,64}"),
}


# Django's language codes that Logto spells otherwise.
LOGTO_LOCALES = {"zh-hans": "zh-CN", "zh-hant": "zh-TW"}


def same_site(request: HttpRequest, url: str | None) -> bool:
    """Whether ``url`` stays on this site (a path, or this host's origin)."""
    return bool(url) and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


def safe_next_url(request: HttpRequest) -> str:
    """Return ``next`` when it stays on this site, else ``LOGIN_REDIRECT_URL``."""
    candidate = request.GET.get("next", "").strip()
    if same_site(request, candidate):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def back_url(request: HttpRequest) -> str:
    """Return where a form posted from a page sends the browser back: ``next`` when it
    stays on this site, else the page it came from (``Referer``) if on this site, else ``/``."""
    for candidate in (
        request.POST.get("next", "").strip(),
        request.GET.get("next", "").strip(),
        request.headers.get("Referer", ""),
    ):
        if same_site(request, candidate):
            return candidate
    return "/"


def pass_through_params(query: QueryDict) -> dict[str, str]:
    """Return the allow-listed Logto parameters of ``query``; 400 on a malformed one."""
    params = {}
    for name, pattern in PASS_THROUGH.items():
        value = query.get(name)
        if value is None:
            continue
        if not pattern.fullmatch(value):
            raise SignInError(_("The sign-in parameter %(name)s has an invalid value."), name=name)
        params[name] = value
    return params


@method_decorator(never_cache, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class LogtoView(View):
    """Base view: a ``LogtoError`` becomes its error page, never a 500.

    Reached before any Django login (``login_not_required``, for Django's
    ``LoginRequiredMiddleware``): it is how one signs in.
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return super().dispatch(request, *args, **kwargs)
        except LogtoError as error:
            return error_response(request, error)


class SignInView(LogtoView):
    """Send the browser to Logto's sign-in page."""

    http_method_names = ["get", "head", "options"]
    default_params: dict[str, str] = {}
    """Parameters this view always adds (a link's own values win)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        params = {**self.default_params, **pass_through_params(request.GET)}
        # Only a language the site chose for this request (LocaleMiddleware, i18n_patterns):
        # else Logto's page detects the browser's language itself.
        language = get_language() if hasattr(request, "LANGUAGE_CODE") else None
        if language and "ui_locales" not in params:
            # Logto's page in the language of the site (BCP 47: en-us -> en-US; Logto names
            # Chinese scripts by region).
            lang, _, region = language.partition("-")
            params["ui_locales"] = LOGTO_LOCALES.get(language) or (
                f"{lang}-{region.upper()}" if len(region) == 2 else language
            )
        url = _flow.begin_sign_in(
            request.session,
            request.build_absolute_uri(reverse("logto_auth:callback")),
            safe_next_url(request),
            interaction_mode=params.pop("interaction_mode", None),
            extra_params=params,
        )
        return HttpResponseRedirect(url)


class SignUpView(SignInView):
    """Send the browser to Logto's registration screen."""

    # interaction_mode=signUp is the older spelling that Logto before 1.15 understands.
    default_params = {"first_screen": "register", "interaction_mode": "signUp"}


class CallbackView(LogtoView):
    """Finish the sign-in that Logto redirected back from, then sign in to Django.

    Subclass it and mount the subclass at the callback's URL (before
    ``include("logto_auth.urls")``) to act after a sign-in or change where it lands::

        class CallbackView(views.CallbackView):
            def sign_in_succeeded(self, request, user, claims):
                messages.success(request, f"Welcome, {user.get_short_name()}")
    """

    http_method_names = ["get", "options"]

    def get(self, request: HttpRequest) -> HttpResponseBase:
        try:
            result = _flow.finish_sign_in(request.session, request.build_absolute_uri())
            user = authenticate(request, logto_claims=result.claims)
            if user is None:
                raise AccessDenied(_("Your account may not sign in to this site."))
            # login() rotates the session key, or flushes the session when another user
            # was signed in; the tokens go in afterwards so that they survive either.
            login(request, user)
            _flow.store_sign_in(request, result)
        except LogtoError as error:
            return self.sign_in_failed(request, error)
        response = self.sign_in_succeeded(request, user, result.claims)
        return response or HttpResponseRedirect(self.get_success_url(request, result.next_url))

    def get_success_url(self, request: HttpRequest, next_url: str) -> str:
        """Return where the signed-in browser goes: by default ``next_url``, the sign-in
        link's ``next`` (same-site only) or else ``LOGIN_REDIRECT_URL``."""
        return next_url

    def sign_in_succeeded(
        self, request: HttpRequest, user: Any, claims: dict[str, Any]
    ) -> HttpResponseBase | None:
        """Act on a completed sign-in (``user`` is signed in, ``claims`` are Logto's).

        By default, do nothing and return ``None``: the browser goes to
        ``get_success_url()``. Return a response to send it elsewhere.
        """
        return None

    def sign_in_failed(self, request: HttpRequest, error: LogtoError) -> HttpResponseBase:
        """Answer a sign-in that failed (``error`` says why; it is logged either way).

        By default, return the error page for ``error`` (4xx or 5xx, never a 500).
        """
        return error_response(request, error)


@method_decorator(csrf_protect, name="dispatch")
class SignOutView(LogtoView):
    """GET shows a confirmation form; POST signs out of the site and of Logto."""

    http_method_names = ["get", "post", "options"]
    template_name = "logto_auth/sign_out.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name)

    def post(self, request: HttpRequest) -> HttpResponse:
        return HttpResponseRedirect(_flow.sign_out(request))


@method_decorator(csrf_protect, name="dispatch")
class OrganizationView(LogtoView):
    """POST ``organization_id``: make that organization the current one, then go back.

    Only an organization the user belongs to (by the claims: no provider call); any other
    id answers 403 and changes nothing. A signed-out visitor is sent to sign in. The
    choice is remembered in this browser for the user's next sign-in.
    """

    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest) -> HttpResponseBase:
        logto = request.logto  # type: ignore[attr-defined]
        back = back_url(request)
        if not (logto.is_authenticated and request.user.is_authenticated):
            return redirect_to_login(back)
        organization_id = request.POST.get("organization_id", "")
        if not logto.select_organization(organization_id):
            return error_response(request, AccessDenied(_organizations.NOT_A_MEMBER))
        response = HttpResponseRedirect(back)
        _organizations.remember(response, str(logto.sub), organization_id)
        return response


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class ProviderNotificationView(View):
    """Base of the endpoints Logto calls server to server: JSON answers, never cached."""

    http_method_names = ["post"]
    error_code = "invalid_request"

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            outcome = self.handle(request)
        except LogtoError as error:
            return notification_response(request, None, error, self.error_code)
        except DatabaseError:
            # Nothing was recorded as done: a 5xx makes Logto deliver it again.
            logger.exception("%s %s failed", request.method, request.path)
            unavailable = ProviderUnavailable(_("This site could not act on it now; retry."))
            return notification_response(request, None, unavailable, self.error_code)
        return notification_response(request, outcome, None, self.error_code)

    def handle(self, request: HttpRequest) -> str:
        """Act on the notification and return what was done; raise ``LogtoError`` to refuse."""
        raise NotImplementedError


@method_decorator(sensitive_post_parameters("logout_token"), name="dispatch")
class BackChannelLogoutView(ProviderNotificationView):
    """OpenID Connect back-channel logout: end the Django sessions of a Logto session."""

    def handle(self, request: HttpRequest) -> str:
        ended = _notifications.log_out(request.POST.get("logout_token", ""))
        return f"{ended} session(s) ended"


class WebhookView(ProviderNotificationView):
    """Logto webhooks: verify the signature, then act on user events."""

    error_code = "invalid_webhook"

    def handle(self, request: HttpRequest) -> str:
        body = request.body
        _notifications.verify(body, request.headers.get(_notifications.SIGNATURE_HEADER))
        return _notifications.handle(request, body)
