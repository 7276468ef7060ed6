"""System checks: misconfiguration is reported by ``manage.py check``, not at sign-in."""

from __future__ import annotations

import ipaddress
import urllib.parse
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.shortcuts import resolve_url
from django.urls import Resolver404, resolve
from django.utils.module_loading import import_string

from logto_auth.conf import SETTINGS, logto_settings

__all__ = [
    "check_any_organization_admin",
    "check_backend",
    "check_cache",
    "check_endpoint_https",
    "check_endpoint_shape",
    "check_login_url",
    "check_middleware",
    "check_persistent_connections_under_asgi",
    "check_process_cache",
    "check_role_scopes",
    "check_session_engine",
    "check_settings",
]

MIDDLEWARE = "logto_auth.middleware.LogtoMiddleware"
SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
BACKEND = "logto_auth.backends.LogtoBackend"
HINTS = {
    "logto_auth.E002": "Copy it from the application's page in the Logto Console.",
    "logto_auth.E003": f"Valid keys: {', '.join(setting.name for setting in SETTINGS)}.",
    "logto_auth.E004": "See docs/settings.md (the settings reference).",
    "logto_auth.E009": "See docs/roles.md (roles, rights and the admin).",
    "logto_auth.E013": "See docs/organizations.md (organization permissions).",
}


@register(Tags.security, Tags.compatibility)
def check_settings(**kwargs: Any) -> list[CheckMessage]:
    """Report what is wrong in the ``LOGTO`` setting (``E001`` to ``E004``, ``E009``, ``E013``).

    ``E001``: no ``LOGTO``; ``E002``: a required key missing; ``E003``: an unknown key;
    ``E004``: an invalid value; ``E009``: an invalid role mapping; ``E013``: invalid
    ``ORGANIZATION_PERMISSIONS``.
    """
    messages: list[CheckMessage] = []
    for setting, message in logto_settings.problems():
        if setting is None:
            check_id = "logto_auth.E001"
            hint = "Add LOGTO = {'ENDPOINT': ..., 'APP_ID': ..., 'APP_SECRET': ...}."
        else:
            check_id, hint = setting.check_id, HINTS[setting.check_id]
        messages.append(Error(message, hint=hint, id=check_id))
    return messages


@register(Tags.compatibility)
def check_role_scopes(**kwargs: Any) -> list[CheckMessage]:
    """Warn when mapped roles cannot arrive: no ``roles`` scope (``W002``).

    ``W003``: organization roles are mapped without the organization scopes.
    """
    if logto_settings.problems():
        return []
    scopes = set(logto_settings.scopes)
    messages: list[CheckMessage] = []
    if (logto_settings.roles or logto_settings.role_groups_prefix) and "roles" not in scopes:
        messages.append(
            Warning(
                "LOGTO maps roles, but LOGTO['SCOPES'] lacks 'roles': rights will never change.",
                hint="Add 'roles' to LOGTO['SCOPES'].",
                id="logto_auth.W002",
            )
        )
    if (
        logto_settings.organization_roles
        and not {
            "urn:logto:scope:organizations",
            "urn:logto:scope:organization_roles",
        }
        <= scopes
    ):
        messages.append(
            Warning(
                "LOGTO maps organization roles, but LOGTO['SCOPES'] lacks the organization scopes.",
                hint="Add 'urn:logto:scope:organizations' and "
                "'urn:logto:scope:organization_roles' to LOGTO['SCOPES'].",
                id="logto_auth.W003",
            )
        )
    return messages


@register(Tags.security)
def check_endpoint_https(**kwargs: Any) -> list[CheckMessage]:
    """Report a non-loopback ``ENDPOINT`` over plain http while ``DEBUG`` is off (``E008``)."""
    endpoint = logto_settings.raw.get("ENDPOINT")
    if settings.DEBUG or not isinstance(endpoint, str) or not endpoint:
        return []
    parts = urllib.parse.urlsplit(endpoint)
    # Only plain http is reported here; anything else that is no origin is E011.
    if parts.scheme != "http" or _is_loopback(parts.hostname or ""):
        return []
    return [
        Error(
            f"LOGTO['ENDPOINT'] ({endpoint}) is not https while DEBUG is off.",
            hint="Tokens and codes would cross the network in clear text: use https.",
            id="logto_auth.E008",
        )
    ]


@register(Tags.compatibility)
def check_endpoint_shape(**kwargs: Any) -> list[CheckMessage]:
    """Report an ``ENDPOINT`` ending in ``/oidc`` (``E010``) or not an origin (``E011``)."""
    endpoint = logto_settings.raw.get("ENDPOINT")
    if not isinstance(endpoint, str) or not endpoint:
        return []  # E002 reports it
    parts = urllib.parse.urlsplit(endpoint)
    path = parts.path.rstrip("/")
    if path.endswith("/oidc"):
        base = endpoint.rstrip("/").removesuffix("/oidc")
        return [
            Error(
                f"LOGTO['ENDPOINT'] ({endpoint}) ends in /oidc.",
                hint=f"Logto serves OpenID Connect under {{ENDPOINT}}/oidc: set it to {base}.",
                id="logto_auth.E010",
            )
        ]
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problem = "has no http(s) scheme and host"
    elif path or parts.query or parts.fragment:
        problem = "has a path, query or fragment"
    else:
        return []
    return [
        Error(
            f"LOGTO['ENDPOINT'] ({endpoint}) {problem}.",
            hint="Use the origin of your Logto tenant, e.g. https://your-tenant.logto.app "
            "(the Endpoint shown in the Console's application details, without /oidc).",
            id="logto_auth.E011",
        )
    ]


@register(Tags.urls)
def check_login_url(**kwargs: Any) -> list[CheckMessage]:
    """Warn when ``LOGIN_URL`` resolves to no view of this site (``W013``)."""
    # login_required and the admin send anonymous users to LOGIN_URL: Django's default,
    # /accounts/login/, is a 404 on a site that signs in through Logto.
    target = resolve_url(settings.LOGIN_URL)
    if urllib.parse.urlsplit(target).netloc:
        return []
    try:
        resolve(urllib.parse.urlsplit(target).path)
    except Resolver404:
        return [
            Warning(
                f"LOGIN_URL ({settings.LOGIN_URL}) does not resolve to a view of this site.",
                hint="Set LOGIN_URL = 'logto_auth:sign_in' (and include('logto_auth.urls')).",
                id="logto_auth.W013",
            )
        ]
    return []


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@register(Tags.compatibility)
def check_middleware(**kwargs: Any) -> list[CheckMessage]:
    """Report ``LogtoMiddleware`` missing (``E005``) or misplaced (``E006``, ``E012``).

    It must come after ``SessionMiddleware`` (``E006``) and ``AuthenticationMiddleware``
    (``E012``).
    """
    middleware = list(settings.MIDDLEWARE)
    if MIDDLEWARE not in middleware:
        return [
            Error(
                f"'{MIDDLEWARE}' is not in MIDDLEWARE.",
                hint="Add it after SessionMiddleware and AuthenticationMiddleware.",
                id="logto_auth.E005",
            )
        ]
    position = middleware.index(MIDDLEWARE)
    if SESSION_MIDDLEWARE in middleware and middleware.index(SESSION_MIDDLEWARE) > position:
        return [
            Error(
                f"'{MIDDLEWARE}' comes before '{SESSION_MIDDLEWARE}'.",
                hint="Move LogtoMiddleware after SessionMiddleware: it reads the session.",
                id="logto_auth.E006",
            )
        ]
    if AUTH_MIDDLEWARE in middleware and middleware.index(AUTH_MIDDLEWARE) > position:
        return [
            Error(
                f"'{MIDDLEWARE}' comes before '{AUTH_MIDDLEWARE}'.",
                hint="Move LogtoMiddleware after AuthenticationMiddleware: it works on "
                "request.user, which AuthenticationMiddleware sets.",
                id="logto_auth.E012",
            )
        ]
    return []


@register(Tags.compatibility)
def check_backend(**kwargs: Any) -> list[CheckMessage]:
    """Report ``AUTHENTICATION_BACKENDS`` lacking ``LogtoBackend`` or a subclass (``E007``)."""
    from logto_auth.backends import LogtoBackend

    for path in settings.AUTHENTICATION_BACKENDS:
        try:
            if issubclass(import_string(path), LogtoBackend):
                return []
        except ImportError:
            continue  # Django's own checks and login report a backend that does not import
    return [
        Error(
            f"'{BACKEND}' is not in AUTHENTICATION_BACKENDS.",
            hint="Add it, or a subclass (keep ModelBackend too if staff also sign in with "
            "passwords).",
            id="logto_auth.E007",
        )
    ]


@register(Tags.compatibility)
def check_session_engine(**kwargs: Any) -> list[CheckMessage]:
    """Warn when sessions are signed cookies, too small for Logto's tokens (``W001``)."""
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.signed_cookies":
        return []
    return [
        Warning(
            "SESSION_ENGINE is signed_cookies: Logto tokens may not fit in a cookie.",
            hint="Browsers drop cookies over about 4 KB; a user with many organizations or "
            "roles then signs in and is signed out at once. Use database or cache sessions.",
            id="logto_auth.W001",
        )
    ]


@register(Tags.caches)
def check_cache(**kwargs: Any) -> list[CheckMessage]:
    """Warn if the default cache is ``DummyCache``: no refresh lock nor replay guard (``W010``)."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend != "django.core.cache.backends.dummy.DummyCache":
        return []
    return [
        Warning(
            "CACHES['default'] is DummyCache: token refreshes are not serialised and replayed "
            "logout tokens and webhooks are not recognised.",
            hint="Use a cache every process shares: Redis, Memcached or DatabaseCache.",
            id="logto_auth.W010",
        )
    ]


@register(Tags.caches)
def check_process_cache(**kwargs: Any) -> list[CheckMessage]:
    """Warn when the default cache is per process (``LocMemCache``), ``DEBUG`` off (``W011``)."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if settings.DEBUG or backend != "django.core.cache.backends.locmem.LocMemCache":
        return []
    return [
        Warning(
            "CACHES['default'] is LocMemCache while DEBUG is off: the refresh lock and the "
            "memories of logout tokens and webhooks are private to each process.",
            hint="Two workers may then refresh one session at once (Logto revokes the grant) "
            "and replays reach the other workers. Use Redis, Memcached or DatabaseCache.",
            id="logto_auth.W011",
        )
    ]


@register(Tags.security)
def check_any_organization_admin(**kwargs: Any) -> list[CheckMessage]:
    """Warn when a ``"*:<role>"`` organization mapping gives admin rights (``W012``).

    Anyone who can create an organization in Logto would become staff or superuser.
    """
    if logto_settings.problems():
        return []
    risky = sorted(
        key
        for key, rights in logto_settings.organization_roles.items()
        if key.startswith("*:") and (rights.get("is_staff") or rights.get("is_superuser"))
    )
    if not risky:
        return []
    return [
        Warning(
            f"LOGTO['ORGANIZATION_ROLES'] gives admin rights for a role in any organization: "
            f"{', '.join(risky)}.",
            hint="Anyone who can create an organization in Logto (or be given that role in "
            "one) becomes staff. Name the organization: '<organization id>:<role>'.",
            id="logto_auth.W012",
        )
    ]


@register(Tags.compatibility)
def check_persistent_connections_under_asgi(**kwargs: Any) -> list[CheckMessage]:
    """Warn when, under ASGI, a database keeps persistent connections, no pool (``W020``)."""
    # A project that names an ASGI application is (or may be) served under ASGI; nothing in
    # the settings says more, since a WSGI_APPLICATION is set by startproject anyway. There
    # each request may run in a thread of its own, whose persistent connection is never
    # reused nor closed: under load the database refuses new clients. A pool is not that.
    if not getattr(settings, "ASGI_APPLICATION", None):
        return []
    persistent = sorted(
        alias
        for alias, database in settings.DATABASES.items()
        if database.get("CONN_MAX_AGE", 0) != 0 and not database.get("OPTIONS", {}).get("pool")
    )
    if not persistent:
        return []
    return [
        Warning(
            f"Persistent database connections (CONN_MAX_AGE) while ASGI_APPLICATION is set: "
            f"{', '.join(persistent)}.",
            hint="Under ASGI every request may run in a new thread and leave its connection "
            "open. Set CONN_MAX_AGE to 0, and on PostgreSQL use a connection pool "
            "(OPTIONS['pool'], psycopg[pool]); silence this check if you serve WSGI only.",
            id="logto_auth.W020",
        )
    ]
