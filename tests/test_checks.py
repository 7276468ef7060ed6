from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.checks import registry
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from logto_auth import checks

pytestmark = pytest.mark.django_db  # Django 6.1's model checks ask the database
VALID = {"ENDPOINT": "https://tenant.logto.app", "APP_ID": "app", "APP_SECRET": "secret"}


@pytest.fixture(autouse=True)
def shared_cache(settings: Any) -> None:
    """A cache every process shares, as production has (LocMemCache warns: W011)."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "c"}
    }


def ids(**kwargs: Any) -> list[str]:
    found: list[str] = []
    for check in registry.registry.get_checks():
        if check.__module__ == checks.__name__:
            found += [str(message.id) for message in check(app_configs=None, databases=None)]
    return found


def test_checks_are_bound() -> None:
    bound = {getattr(check, "__name__", "") for check in registry.registry.get_checks()}
    assert {
        "check_settings",
        "check_endpoint_https",
        "check_middleware",
        "check_backend",
        "check_session_engine",
        "check_role_scopes",
        "check_cache",
        "check_process_cache",
        "check_any_organization_admin",
        "check_endpoint_shape",
        "check_login_url",
        "check_persistent_connections_under_asgi",
    } <= bound


def test_valid_configuration_has_no_messages(settings: Any) -> None:
    settings.LOGTO = VALID
    assert ids() == []


@pytest.mark.parametrize(
    ("logto", "expected"),
    [
        (None, "logto_auth.E001"),
        ("https://tenant.logto.app", "logto_auth.E001"),
        ({**VALID, "ENDPOINT": ""}, "logto_auth.E002"),
        ({k: v for k, v in VALID.items() if k != "APP_ID"}, "logto_auth.E002"),
        ({k: v for k, v in VALID.items() if k != "APP_SECRET"}, "logto_auth.E002"),
        ({**VALID, "APP_SECRETS": "typo"}, "logto_auth.E003"),
        ({**VALID, "SCOPES": "email roles"}, "logto_auth.E004"),
        ({**VALID, "TIMEOUT": 0}, "logto_auth.E004"),
        ({**VALID, "PROMPT": "none"}, "logto_auth.E004"),
        ({**VALID, "ROLES": ["admin"]}, "logto_auth.E009"),
        ({**VALID, "ROLES": {"admin": {"is_staf": True}}}, "logto_auth.E009"),
        ({**VALID, "ROLES": {"admin": {"is_staff": "yes"}}}, "logto_auth.E009"),
        ({**VALID, "ROLES": {"staff": {"groups": "Staff"}}}, "logto_auth.E009"),
        ({**VALID, "ORGANIZATION_ROLES": {"admin": {"groups": ["A"]}}}, "logto_auth.E009"),
        ({**VALID, "CONSOLE_URL": 1}, "logto_auth.E004"),
        ({**VALID, "API_RESOURCES": "http://api"}, "logto_auth.E004"),
        ({**VALID, "API_TOKEN_CACHE_SIZE": -1}, "logto_auth.E004"),
        ({**VALID, "API_USER_MAX_AGE": -1}, "logto_auth.E004"),
        ({**VALID, "REVALIDATE_INTERVAL": -1}, "logto_auth.E004"),
        ({**VALID, "END_SESSION_WITH_REFRESH_TOKEN": "yes"}, "logto_auth.E004"),
        ({**VALID, "WEBHOOK_SIGNING_KEY": 1234}, "logto_auth.E004"),
    ],
)
def test_bad_logto_setting_fails_manage_check(settings: Any, logto: Any, expected: str) -> None:
    if logto is None:
        del settings.LOGTO
    else:
        settings.LOGTO = logto

    assert expected in ids()
    with pytest.raises(SystemCheckError, match=expected):
        call_command("check")


def test_http_endpoint_without_debug_is_an_error(settings: Any) -> None:
    settings.DEBUG = False
    settings.LOGTO = {**VALID, "ENDPOINT": "http://auth.example.com"}

    assert ids() == ["logto_auth.E008"]
    with pytest.raises(SystemCheckError, match="E008"):
        call_command("check")


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:3001", "http://localhost:3001"])
def test_http_loopback_endpoint_is_allowed(settings: Any, endpoint: str) -> None:
    settings.DEBUG = False
    settings.LOGTO = {**VALID, "ENDPOINT": endpoint}
    assert ids() == []


def test_missing_middleware(settings: Any) -> None:
    settings.LOGTO = VALID
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != checks.MIDDLEWARE]
    assert ids() == ["logto_auth.E005"]
    with pytest.raises(SystemCheckError, match="E005"):
        call_command("check")


def test_middleware_before_sessions(settings: Any) -> None:
    settings.LOGTO = VALID
    settings.MIDDLEWARE = [checks.MIDDLEWARE] + [
        m for m in settings.MIDDLEWARE if m != checks.MIDDLEWARE
    ]
    assert ids() == ["logto_auth.E006"]
    with pytest.raises(SystemCheckError, match="E006"):
        call_command("check")


def test_missing_backend(settings: Any) -> None:
    settings.LOGTO = VALID
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    assert ids() == ["logto_auth.E007"]
    with pytest.raises(SystemCheckError, match="E007"):
        call_command("check")


def test_signed_cookie_sessions_warn(settings: Any, capsys: pytest.CaptureFixture[str]) -> None:
    settings.LOGTO = VALID
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"

    assert ids() == ["logto_auth.W001"]
    call_command("check")  # a warning does not fail the check
    assert "logto_auth.W001" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("logto", "expected"),
    [
        ({**VALID, "SCOPES": ["email"], "ROLES": {"admin": {"is_staff": True}}}, "logto_auth.W002"),
        ({**VALID, "SCOPES": ["email"], "ROLE_GROUPS_PREFIX": "logto:"}, "logto_auth.W002"),
        (
            {**VALID, "SCOPES": ["roles"], "ORGANIZATION_ROLES": {"*:admin": {"groups": ["A"]}}},
            "logto_auth.W003",
        ),
    ],
)
def test_mapping_without_its_scope_warns(settings: Any, logto: Any, expected: str) -> None:
    settings.LOGTO = logto
    assert ids() == [expected]


def test_dummy_cache_warns(settings: Any) -> None:
    settings.LOGTO = VALID
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}

    assert ids() == ["logto_auth.W010"]


def test_process_private_cache_without_debug_warns(settings: Any) -> None:
    settings.LOGTO = VALID
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert ids() == ["logto_auth.W011"]

    settings.DEBUG = True
    assert ids() == []


def test_admin_rights_for_a_role_in_any_organization_warn(settings: Any) -> None:
    scopes = ["urn:logto:scope:organizations", "urn:logto:scope:organization_roles"]
    settings.LOGTO = {
        **VALID,
        "SCOPES": scopes,
        "ORGANIZATION_ROLES": {"*:admin": {"is_superuser": True}, "*:billing": {"groups": ["B"]}},
    }
    assert ids() == ["logto_auth.W012"]

    settings.LOGTO = {**settings.LOGTO, "ORGANIZATION_ROLES": {"acme:admin": {"is_staff": True}}}
    assert ids() == []


def test_endpoint_ending_in_oidc_is_an_error_naming_the_endpoint_to_use(settings: Any) -> None:
    settings.LOGTO = {**VALID, "ENDPOINT": "https://tenant.logto.app/oidc/"}
    assert ids() == ["logto_auth.E010"]
    with pytest.raises(
        SystemCheckError, match=r"E010.*\n.*HINT.*set it to https://tenant.logto.app"
    ):
        call_command("check")


@pytest.mark.parametrize(
    "endpoint",
    [
        "tenant.logto.app",
        "https://tenant.logto.app/sign-in",
        "https://tenant.logto.app?x=1",
        "https://tenant.logto.app#top",
        "ftp://tenant.logto.app",
    ],
)
def test_endpoint_that_is_not_an_origin_is_an_error(settings: Any, endpoint: str) -> None:
    settings.LOGTO = {**VALID, "ENDPOINT": endpoint}
    assert ids() == ["logto_auth.E011"]
    with pytest.raises(SystemCheckError, match="E011"):
        call_command("check")


def test_endpoint_with_a_trailing_slash_is_fine(settings: Any) -> None:
    settings.LOGTO = {**VALID, "ENDPOINT": "https://tenant.logto.app/"}
    assert ids() == []


def test_middleware_before_authentication_middleware_is_an_error(settings: Any) -> None:
    settings.LOGTO = VALID
    others = [m for m in settings.MIDDLEWARE if m != checks.MIDDLEWARE]
    auth = others.index(checks.AUTH_MIDDLEWARE)
    settings.MIDDLEWARE = [*others[:auth], checks.MIDDLEWARE, *others[auth:]]
    assert ids() == ["logto_auth.E012"]
    with pytest.raises(SystemCheckError, match="E012"):
        call_command("check")


def test_login_url_left_at_djangos_unrouted_default_warns(
    settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.LOGTO = VALID
    settings.LOGIN_URL = "/accounts/login/"
    assert ids() == ["logto_auth.W013"]
    call_command("check")
    assert "logto_auth.W013" in capsys.readouterr().err


@pytest.mark.parametrize(
    "login_url", ["logto_auth:sign_in", "/logto/sign-in/", "https://sso.example.com/login"]
)
def test_login_url_that_resolves_or_leaves_the_site_is_fine(settings: Any, login_url: str) -> None:
    settings.LOGTO = VALID
    settings.LOGIN_URL = login_url

    assert "logto_auth.W013" not in ids()


def databases(monkeypatch: pytest.MonkeyPatch, **aliases: dict[str, Any]) -> None:
    """Replace DATABASES for the checks only (override_settings warns: connections exist)."""
    monkeypatch.setattr(django_settings, "DATABASES", aliases)


def test_persistent_connections_under_asgi_warn(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.LOGTO = VALID
    settings.ASGI_APPLICATION = "config.asgi.application"
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": "x"}
    databases(
        monkeypatch,
        default={**sqlite, "CONN_MAX_AGE": 60},
        forever={**sqlite, "CONN_MAX_AGE": None},
    )

    assert ids() == ["logto_auth.W020"]
    [message] = checks.check_persistent_connections_under_asgi()
    assert "default, forever" in message.msg


def test_persistent_connections_without_asgi_or_with_a_pool_are_fine(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.LOGTO = VALID
    settings.ASGI_APPLICATION = "config.asgi.application"
    pooled = {"ENGINE": "django.db.backends.postgresql", "OPTIONS": {"pool": {"max_size": 4}}}
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": "x"}
    databases(
        monkeypatch, default={**sqlite, "CONN_MAX_AGE": 0}, pooled={**pooled, "CONN_MAX_AGE": 9}
    )
    assert ids() == []

    databases(monkeypatch, default={**sqlite, "CONN_MAX_AGE": 60})
    del settings.ASGI_APPLICATION
    assert ids() == []
