"""Internal: may change in any release.

Check the configuration against the live tenant, without a browser or a user.

Each probe is a request Logto answers differently when the setting is wrong, before any
user is involved: discovery for the endpoint and issuer, the ``Date`` header for the
clock, an authorization request for the app ID, the redirect URI and each resource (an
unknown client is a 400 ``invalid_client``, an unregistered redirect URI a 400
``invalid_redirect_uri``, an unknown resource a redirect with ``invalid_target``; with
``ORGANIZATION_PERMISSIONS``, the organizations resource and those scopes), a token
request with a dummy code for the secret (``invalid_grant`` with the right secret,
``invalid_client`` with a wrong one), and the end-session endpoint for the post-logout
redirect URI. Nothing here is cached or reused by the sign-in path.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import logging
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse

from logto_auth._http import Answer, exchange
from logto_auth._provider import KEY_TYPES, client_auth
from logto_auth.conf import ORGANIZATIONS_RESOURCE, ORGANIZATIONS_SCOPE, logto_settings
from logto_auth.exceptions import LogtoError

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

CONSOLE = "in the Logto Console"
ORGANIZATIONS_CHECK = "organization permissions"


@dataclass
class Result:
    """One check: ``passed`` is ``None`` when it could not run (an earlier check failed)."""

    name: str
    passed: bool | None
    detail: str
    fix: str = ""


@dataclass
class Preflight:
    site: str
    results: list[Result] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, passed: bool | None, detail: str, fix: str = "") -> bool:
        self.results.append(Result(name, passed, detail, fix))
        return bool(passed)

    def skip(self, names: list[str], reason: str) -> None:
        for name in names:
            self.add(name, None, reason)

    @property
    def callback(self) -> str:
        return urllib.parse.urljoin(self.site, reverse("logto_auth:callback"))

    @property
    def post_logout(self) -> str:
        return urllib.parse.urljoin(self.site, resolve_url(settings.LOGOUT_REDIRECT_URL or "/"))

    def run(self) -> list[Result]:
        later = ["issuer", "signing algorithm", "clock", *client_checks()]
        try:
            answer = exchange(logto_settings.discovery_url)
        except LogtoError as error:
            self.add("endpoint", False, f"{logto_settings.endpoint}: {error}", endpoint_fix())
            self.skip(later, "needs the endpoint")
            return self.results
        self.add("endpoint", True, f"{logto_settings.endpoint} answers")
        if not self.check_issuer(answer):
            self.skip(later[1:], "needs the discovery document")
            return self.results
        self.check_signing()
        self.check_clock(answer)
        self.check_client()
        return self.results

    def check_issuer(self, answer: Answer) -> bool:
        found = answer.json().get("issuer") if answer.status == 200 else None
        if found == logto_settings.issuer:
            self.metadata = answer.json()
            return self.add("issuer", True, f"{found}")
        if found is None:
            detail = f"{logto_settings.discovery_url} answered HTTP {answer.status}"
            return self.add("issuer", False, detail, endpoint_fix())
        base = str(found).removesuffix("/oidc")
        return self.add(
            "issuer",
            False,
            f"discovery names the issuer {found}, not {logto_settings.issuer}",
            f"Set LOGTO['ENDPOINT'] to {base} (the URL Logto's issuer starts with).",
        )

    def check_signing(self) -> None:
        advertised = self.metadata.get("id_token_signing_alg_values_supported") or []
        usable = [alg for alg in advertised if alg in supported_algorithms()]
        if usable:
            self.add("signing algorithm", True, f"ID tokens signed with {', '.join(usable)}")
            return
        self.add(
            "signing algorithm",
            False,
            f"the provider signs ID tokens with {', '.join(map(str, advertised)) or 'nothing'}",
            f"django-logto verifies {', '.join(supported_algorithms())}; Logto signs with "
            "ES384 (or RS256 when its signing key is RSA): rotate the OIDC signing key.",
        )

    def check_clock(self, answer: Answer) -> None:
        date = answer.header("date")
        if not date:
            self.add("clock", None, "the provider sent no Date header")
            return
        skew = now() - email.utils.parsedate_to_datetime(date).timestamp()
        # The Date header has one-second precision.
        allowed = logto_settings.leeway + 1
        side = "ahead of" if skew > 0 else "behind"
        detail = f"this machine's clock is {abs(skew):.0f}s {side} Logto's"
        if abs(skew) <= allowed:
            self.add("clock", True, detail)
        else:
            fix = (
                "Synchronise this machine's clock (NTP): token times allow "
                f"{logto_settings.leeway}s (LOGTO['LEEWAY'])."
            )
            self.add("clock", False, detail, fix)

    def authorize(self, **extra: str) -> Answer:
        verifier = secrets.token_urlsafe(48)
        params = {
            "client_id": logto_settings.app_id,
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": self.callback,
            "state": secrets.token_urlsafe(16),
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
            **extra,
        }
        endpoint = self.metadata["authorization_endpoint"]
        return exchange(f"{endpoint}?{urllib.parse.urlencode(params)}")

    def check_client(self) -> None:
        names = client_checks()
        try:
            answer = self.authorize()
        except LogtoError as error:
            self.add("APP_ID", False, f"the authorization endpoint failed: {error}")
            self.skip(names[1:], "needs the authorization endpoint")
            return
        if refused(answer, "invalid_client"):
            app = logto_settings.app_id
            fix = (
                f"Copy the App ID of a Traditional web application {CONSOLE} into LOGTO['APP_ID']."
            )
            self.add("APP_ID", False, f"Logto knows no application {app!r} (invalid_client)", fix)
            self.skip(names[1:], "needs a known APP_ID")
            return
        self.add("APP_ID", True, f"application {logto_settings.app_id!r} is known")
        self.guarded("APP_SECRET", self.check_secret)
        registered = self.check_redirect(answer)
        # Authorization requests that only a registered redirect URI lets through.
        checks: list[tuple[str, Callable[[], None]]] = [
            (f"resource {r}", partial(self.check_resource, r)) for r in resources()
        ]
        if logto_settings.organization_permissions:
            checks.append((ORGANIZATIONS_CHECK, self.check_organizations))
        for name, check in checks:
            if registered:
                self.guarded(name, check)
            else:
                self.add(name, None, "needs a registered redirect URI")
        self.guarded("post-logout redirect URI", self.check_post_logout)

    def guarded(self, name: str, check: Any) -> None:
        try:
            check()
        except LogtoError as error:
            self.add(name, False, f"the provider failed: {error}")

    def check_secret(self) -> None:
        data = {
            "grant_type": "authorization_code",
            "code": "logto-check",
            "redirect_uri": self.callback,
        }
        answer = exchange(self.metadata["token_endpoint"], data=data, headers=client_auth())
        if answer.error == "invalid_grant":
            self.add("APP_SECRET", True, "the token endpoint accepts the secret")
        elif refused(answer, "invalid_client"):
            app = logto_settings.app_id
            fix = f"Copy the App secret of {app!r} {CONSOLE} into LOGTO['APP_SECRET']."
            self.add(
                "APP_SECRET", False, "the token endpoint refused the secret (invalid_client)", fix
            )
        else:
            detail = f"the token endpoint answered HTTP {answer.status} {answer.error}".rstrip()
            self.add("APP_SECRET", False, detail)

    def check_redirect(self, answer: Answer) -> bool:
        if refused(answer, "invalid_redirect_uri"):
            fix = f"Add {self.callback} to the application's Redirect URIs {CONSOLE}"
            fix += " (or pass --site with the site's real origin)."
            return self.add("redirect URI", False, f"{self.callback} is not registered", fix)
        if answer.status >= 400:
            detail = f"the authorization endpoint answered HTTP {answer.status} {answer.error}"
            return self.add("redirect URI", False, detail.rstrip())
        return self.add("redirect URI", True, f"{self.callback} is registered")

    def check_resource(self, resource: str) -> None:
        answer = self.authorize(resource=resource)
        name = f"resource {resource}"
        if answer.error == "invalid_target":
            fix = (
                f"Create an API resource with the identifier {resource} {CONSOLE} (API resources), "
                "or remove it from LOGTO['RESOURCES'] / LOGTO['API_RESOURCES']."
            )
            self.add(name, False, "Logto knows no such API resource (invalid_target)", fix)
        elif answer.status >= 400 or answer.error:
            detail = f"the authorization endpoint answered HTTP {answer.status} {answer.error}"
            self.add(name, False, detail.rstrip())
        else:
            self.add(name, True, "known to Logto")

    def check_organizations(self) -> None:
        """``ORGANIZATION_PERMISSIONS`` needs a Logto with organizations, which takes the
        sign-in's request for its organizations resource. Whether the tenant defines each
        permission it does not tell: it answers an unknown scope like a known one, and only
        a member's organization token (or the Management API) lists them."""
        if ORGANIZATIONS_SCOPE not in self.metadata.get("scopes_supported", []):
            fix = "Use a Logto with organizations, or empty LOGTO['ORGANIZATION_PERMISSIONS']."
            detail = f"this Logto has no organizations (its discovery lacks {ORGANIZATIONS_SCOPE})"
            self.add(ORGANIZATIONS_CHECK, False, detail, fix)
            return
        scope = " ".join(["openid", *logto_settings.sign_in_scopes])
        answer = self.authorize(resource=ORGANIZATIONS_RESOURCE, scope=scope)
        if answer.status >= 400 or answer.error:
            detail = (
                f"the sign-in's request for {ORGANIZATIONS_RESOURCE} was refused: "
                f"HTTP {answer.status} {answer.error}"
            )
            self.add(ORGANIZATIONS_CHECK, False, detail.rstrip())
            return
        permissions = ", ".join(logto_settings.organization_permissions)
        detail = (
            f"Logto takes the sign-in's request for {permissions}; whether its organization "
            "roles grant them only a member's sign-in shows (request.logto.organization)"
        )
        self.add(ORGANIZATIONS_CHECK, True, detail)

    def check_post_logout(self) -> None:
        endpoint = self.metadata.get("end_session_endpoint")
        if not isinstance(endpoint, str):
            self.add("post-logout redirect URI", None, "the provider has no end-session endpoint")
            return
        query = {"client_id": logto_settings.app_id, "post_logout_redirect_uri": self.post_logout}
        answer = exchange(f"{endpoint}?{urllib.parse.urlencode(query)}")
        if answer.status >= 400:
            fix = (
                f"Add {self.post_logout} to the application's Post sign-out redirect URIs "
                f"{CONSOLE} (it is LOGOUT_REDIRECT_URL on --site)."
            )
            detail = f"{self.post_logout} is not registered ({answer.error or answer.status})"
            self.add("post-logout redirect URI", False, detail, fix)
        else:
            self.add("post-logout redirect URI", True, f"{self.post_logout} is registered")


def client_checks() -> list[str]:
    named = [f"resource {resource}" for resource in resources()]
    if logto_settings.organization_permissions:
        named.append(ORGANIZATIONS_CHECK)
    return ["APP_ID", "APP_SECRET", "redirect URI", *named, "post-logout redirect URI"]


def refused(answer: Answer, error: str) -> bool:
    """Whether the provider refused with ``error``, as JSON or on an HTML error page."""
    return answer.error == error or (answer.status >= 400 and error in answer.text)


def resources() -> list[str]:
    return list(dict.fromkeys([*logto_settings.resources, *logto_settings.api_resources]))


def supported_algorithms() -> list[str]:
    return list(KEY_TYPES)


def endpoint_fix() -> str:
    endpoint = logto_settings.endpoint
    if urllib.parse.urlsplit(endpoint).path.rstrip("/").endswith("/oidc"):
        return f"Remove '/oidc' from LOGTO['ENDPOINT'] ({endpoint}): Logto adds it itself."
    return "Set LOGTO['ENDPOINT'] to your Logto URL (https://your-tenant.logto.app), no /oidc."


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def now() -> float:
    return time.time()
