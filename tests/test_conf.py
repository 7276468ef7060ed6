from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from logto_auth.conf import logto_settings


def test_defaults_and_live_reads(settings: Any) -> None:
    settings.LOGTO = {"ENDPOINT": "https://tenant.logto.app/", "APP_ID": "a", "APP_SECRET": "s"}

    assert logto_settings.endpoint == "https://tenant.logto.app"
    assert logto_settings.issuer == "https://tenant.logto.app/oidc"
    assert logto_settings.discovery_url.endswith("/oidc/.well-known/openid-configuration")
    assert logto_settings.timeout == 10.0
    assert logto_settings.prompt == "consent"
    assert "roles" in logto_settings.scopes

    assert logto_settings.end_session_with_refresh_token is True
    assert logto_settings.revalidate_interval == 0
    assert logto_settings.webhook_signing_key == ""

    settings.LOGTO = {**settings.LOGTO, "TIMEOUT": 2, "SCOPES": ["email"]}
    assert logto_settings.timeout == 2.0
    assert logto_settings.scopes == ["email"]


def test_missing_required_value_names_the_key(settings: Any) -> None:
    settings.LOGTO = {"ENDPOINT": "https://tenant.logto.app", "APP_ID": "a"}
    with pytest.raises(ImproperlyConfigured, match="APP_SECRET"):
        logto_settings.app_secret  # noqa: B018


def test_api_settings_default_to_no_resource_and_a_bounded_cache(settings: Any) -> None:
    settings.LOGTO = {"ENDPOINT": "https://tenant.logto.app", "APP_ID": "a", "APP_SECRET": "s"}

    assert logto_settings.api_resources == []
    assert logto_settings.api_token_cache_size == 1024

    settings.LOGTO = {**settings.LOGTO, "API_RESOURCES": ["https://api.example.com"]}
    assert logto_settings.api_resources == ["https://api.example.com"]


def test_sync_interval_defaults_to_five_minutes_and_can_be_turned_off(settings: Any) -> None:
    settings.LOGTO = {"ENDPOINT": "https://tenant.logto.app", "APP_ID": "a", "APP_SECRET": "s"}
    assert logto_settings.sync_interval == 300

    settings.LOGTO = {**settings.LOGTO, "SYNC_INTERVAL": None}
    assert logto_settings.sync_interval is None
    assert logto_settings.problems() == []

    settings.LOGTO = {**settings.LOGTO, "SYNC_INTERVAL": 0}
    assert [s.name for s, _ in logto_settings.problems() if s] == ["SYNC_INTERVAL"]
