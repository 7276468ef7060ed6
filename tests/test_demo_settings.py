"""The demo's settings (config/settings.py) against a tenant like a real one."""

from __future__ import annotations

import runpy
from typing import Any

import pytest

from tests.conftest import Site
from tests.devprovider import ROOT, DevProvider

DEV_API = "http://127.0.0.1:8000/api"


def demo_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    """The demo's settings module as it reads this environment (and nothing else of ours)."""
    for name in (
        "LOGTO_ENDPOINT",
        "LOGTO_API_RESOURCE",
        "LOGTO_RESOURCES",
        "LOGTO_SCOPES",
        "LOGTO_ORGANIZATION_PERMISSIONS",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "config" / "settings.py"))


def test_with_only_the_three_variables_the_demo_asks_for_no_api_resource(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    demo = demo_settings(
        monkeypatch,
        LOGTO_ENDPOINT="https://tenant.logto.app",
        LOGTO_APP_ID="app",
        LOGTO_APP_SECRET="secret",
    )
    assert demo["LOGTO"]["RESOURCES"] == []
    assert demo["LOGTO"]["API_RESOURCES"] == []
    assert "read:profile" not in demo["LOGTO"]["SCOPES"]


def test_the_dev_provider_default_asks_for_the_demo_api(monkeypatch: pytest.MonkeyPatch) -> None:
    demo = demo_settings(monkeypatch)
    assert demo["LOGTO"]["RESOURCES"] == [DEV_API]
    assert demo["LOGTO"]["API_RESOURCES"] == [DEV_API]
    assert "read:profile" in demo["LOGTO"]["SCOPES"]


def test_an_api_resource_set_in_the_environment_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    demo = demo_settings(
        monkeypatch,
        LOGTO_ENDPOINT="https://tenant.logto.app",
        LOGTO_API_RESOURCE="https://api.example.com",
    )
    assert demo["LOGTO"]["RESOURCES"] == ["https://api.example.com"]
    assert demo["LOGTO"]["API_RESOURCES"] == ["https://api.example.com"]


def test_organization_permissions_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert demo_settings(monkeypatch)["LOGTO"]["ORGANIZATION_PERMISSIONS"] == []
    demo = demo_settings(monkeypatch, LOGTO_ORGANIZATION_PERMISSIONS=" invite:member  read:data ")
    assert demo["LOGTO"]["ORGANIZATION_PERMISSIONS"] == ["invite:member", "read:data"]


def test_the_demo_signs_in_against_a_tenant_without_its_api_resource(
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    wsgi_site: Site,
    tenant_without_api: DevProvider,
) -> None:
    demo = demo_settings(
        monkeypatch,
        LOGTO_ENDPOINT=tenant_without_api.url,
        LOGTO_APP_ID="django-demo",
        LOGTO_APP_SECRET="django-demo-secret",
    )
    settings.LOGTO = demo["LOGTO"]
    settings.LOGTO_API_RESOURCE = demo["LOGTO_API_RESOURCE"]

    response = wsgi_site.sign_in(tenant_without_api, "alice")

    assert response.status_code == 302
    assert b"Alice Admin" in wsgi_site.get("/").content
    # Only the organizations resource, which the SDK adds and every Logto tenant has.
    assert all(DEV_API not in str(r.get("resource")) for r in tenant_without_api.auth_requests())
    profile = wsgi_site.get("/profile/")
    assert profile.status_code == 200
    assert b"The demo API is off" in profile.content
    assert b"API resources" in profile.content
