"""``manage.py logto_check`` against the dev provider, configured each broken way it detects."""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from logto_auth import _http, _preflight
from tests.devprovider import TEST_CLIENT_ORIGIN, DevProvider

# Every check here talks to a live dev provider (the integration tier).
pytestmark = pytest.mark.usefixtures("dev_provider")
API = "http://127.0.0.1:8000/api"


def check(*args: str) -> tuple[bool, str]:
    """Run the command; return whether it passed (exit 0) and what it printed."""
    out = io.StringIO()
    try:
        call_command("logto_check", *args, stdout=out)
    except CommandError as error:
        if error.returncode != 1:
            raise
        return False, out.getvalue()
    return True, out.getvalue()


def line(output: str, name: str) -> str:
    """The line of check ``name`` and its fix, if any."""
    lines = output.splitlines()
    for index, text in enumerate(lines):
        if text[6:].startswith(f"{name}:"):
            following = lines[index + 1] if index + 1 < len(lines) else ""
            return text + ("\n" + following if following.strip().startswith("fix:") else "")
    raise AssertionError(f"no line for {name!r} in:\n{output}")


def test_a_correct_configuration_passes_every_check_and_exits_0() -> None:
    passed, output = check("--site", TEST_CLIENT_ORIGIN)
    assert passed
    for name in ("endpoint", "issuer", "signing algorithm", "clock", "APP_ID", "APP_SECRET"):
        assert line(output, name).startswith("ok")
    assert line(output, "redirect URI").startswith("ok")
    assert line(output, f"resource {API}").startswith("ok")
    assert line(output, "post-logout redirect URI").startswith("ok")
    assert "checks passed" in output


def test_an_unreachable_endpoint_fails_and_skips_the_checks_that_need_it(settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "ENDPOINT": "http://127.0.0.1:9"}
    passed, output = check("--site", TEST_CLIENT_ORIGIN)
    assert not passed
    assert line(output, "endpoint").startswith("FAIL")
    assert "could not be reached" in line(output, "endpoint")
    assert line(output, "APP_SECRET").startswith("skip")


def test_an_endpoint_ending_in_oidc_fails_with_the_hint_to_remove_it(
    settings: Any, dev_provider: DevProvider
) -> None:
    settings.LOGTO = {**settings.LOGTO, "ENDPOINT": f"{dev_provider.url}/oidc"}
    passed, output = check("--site", TEST_CLIENT_ORIGIN)
    assert not passed
    found = line(output, "issuer")
    assert found.startswith("FAIL")
    assert "/oidc/oidc/.well-known" in found
    assert "Remove '/oidc' from LOGTO['ENDPOINT']" in found


def test_an_issuer_other_than_the_endpoint_names_the_endpoint_to_set(
    settings: Any, dev_provider: DevProvider
) -> None:
    # The provider names itself 127.0.0.1; reached as localhost, its issuer differs.
    settings.LOGTO = {
        **settings.LOGTO,
        "ENDPOINT": dev_provider.url.replace("127.0.0.1", "localhost"),
    }
    passed, output = check("--site", TEST_CLIENT_ORIGIN)
    assert not passed
    assert f"Set LOGTO['ENDPOINT'] to {dev_provider.url}" in line(output, "issuer")


def test_a_provider_signing_with_no_algorithm_we_verify_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The dev provider signs ES384, as Logto does; here the app is made to accept only RS256.
    monkeypatch.setattr(_preflight, "supported_algorithms", lambda: ["RS256"])
    passed, output = check("--site", TEST_CLIENT_ORIGIN)
    assert not passed
    assert line(output, "signing algorithm").startswith("FAIL")
    assert "ES384" in line(output, "signing algorithm")


def test_a_clock_off_by_more_than_the_leeway_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _preflight.now
    monkeypatch.setattr(_preflight, "now", lambda: real() + 600)
    passed, output = check("--site", TEST_CLIENT_ORIGIN)
    assert not passed
    found = line(output, "clock")
    assert found.startswith("FAIL")
    assert "ahead of" in found
    assert "NTP" in found


def test_an_unknown_app_id_fails_as_invalid_client(settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "APP_ID": "no-such-app"}
    passed, output = check("--site", TEST_CLIENT_ORIGIN)
    assert not passed
    assert "invalid_client" in line(output, "APP_ID")
    assert "LOGTO['APP_ID']" in line(output, "APP_ID")
    assert line(output, "APP_SECRET").startswith("skip")


def test_a_wrong_app_secret_fails_as_invalid_client_at_the_token_endpoint(settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "APP_SECRET": "wrong"}
    passed, output = check("--site", TEST_CLIENT_ORIGIN)
    assert not passed
    found = line(output, "APP_SECRET")
    assert found.startswith("FAIL")
    assert "LOGTO['APP_SECRET']" in found
    assert line(output, "APP_ID").startswith("ok")


def test_a_resource_the_tenant_lacks_fails_as_invalid_target_naming_it(
    settings: Any, tenant_without_api: DevProvider
) -> None:
    settings.LOGTO = {**settings.LOGTO, "ENDPOINT": tenant_without_api.url}
    passed, output = check("--site", TEST_CLIENT_ORIGIN)
    assert not passed
    found = line(output, f"resource {API}")
    assert found.startswith("FAIL")
    assert "invalid_target" in found
    assert f"Create an API resource with the identifier {API}" in found


def test_no_resources_configured_means_no_resource_check(
    settings: Any, tenant_without_api: DevProvider
) -> None:
    settings.LOGTO = {
        **settings.LOGTO,
        "ENDPOINT": tenant_without_api.url,
        "RESOURCES": [],
        "API_RESOURCES": [],
    }
    passed, output = check("--site", TEST_CLIENT_ORIGIN)
    assert passed, output
    assert "resource " not in output


def test_an_unregistered_callback_fails_and_names_the_uri_to_register() -> None:
    passed, output = check("--site", "http://unregistered.test")
    assert not passed
    found = line(output, "redirect URI")
    assert "http://unregistered.test/logto/callback/ is not registered" in found
    assert "Redirect URIs" in found
    assert line(output, f"resource {API}").startswith("skip")


def test_an_unregistered_post_logout_uri_fails_and_names_it(dev_provider: DevProvider) -> None:
    dev_provider.register(["http://callback-only.test/logto/callback/"])
    passed, output = check("--site", "http://callback-only.test")
    assert not passed
    assert line(output, "redirect URI").startswith("ok")
    found = line(output, "post-logout redirect URI")
    assert "http://callback-only.test/ is not registered" in found
    assert "Post sign-out redirect URIs" in found


def test_the_post_logout_uri_follows_logout_redirect_url(
    settings: Any, dev_provider: DevProvider
) -> None:
    settings.LOGOUT_REDIRECT_URL = "/bye/"
    passed, output = check("--site", TEST_CLIENT_ORIGIN)
    assert not passed
    assert f"{TEST_CLIENT_ORIGIN}/bye/ is not registered" in line(
        output, "post-logout redirect URI"
    )


def test_site_must_be_an_origin() -> None:
    with pytest.raises(CommandError, match="--site must be an origin"):
        call_command("logto_check", "--site", "your.site", stdout=io.StringIO())


def test_invalid_settings_are_reported_before_any_provider_call(
    settings: Any, no_network: list[Any]
) -> None:
    settings.LOGTO = {**settings.LOGTO, "APP_SECRET": ""}
    passed, output = check()
    assert not passed
    assert "LOGTO['APP_SECRET']" in output
    assert no_network == []


def test_organization_permissions_are_asked_of_the_organizations_resource(settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "ORGANIZATION_PERMISSIONS": ["invite:member", "read:data"]}
    passed, output = check("--site", TEST_CLIENT_ORIGIN)
    assert passed, output
    found = line(output, "organization permissions")
    assert found.startswith("ok")
    assert "invite:member, read:data" in found
    assert "only a member's sign-in shows" in found  # what the check cannot tell, said


def test_without_organization_permissions_there_is_no_organizations_check() -> None:
    passed, output = check("--site", TEST_CLIENT_ORIGIN)
    assert passed
    assert "organization permissions" not in output


def with_answer(monkeypatch: pytest.MonkeyPatch, match: str, change: Any) -> None:
    """Make the provider's answers to URLs containing ``match`` pass through ``change``
    (a Logto older than organizations: no real provider here answers so)."""
    real = _http.exchange

    def exchange(url: str, **kwargs: Any) -> Any:
        answer = real(url, **kwargs)
        return change(answer) if match in url else answer

    monkeypatch.setattr(_preflight, "exchange", exchange)


def failed_organizations_check(settings: Any) -> str:
    """Run the command asking for an organization permission; it must fail: the line of
    the organizations check."""
    settings.LOGTO = {**settings.LOGTO, "ORGANIZATION_PERMISSIONS": ["invite:member"]}
    passed, output = check("--site", TEST_CLIENT_ORIGIN)
    assert not passed
    found = line(output, "organization permissions")
    assert found.startswith("FAIL")
    return found


def test_a_logto_without_organizations_fails_the_organizations_check(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def without_organizations(answer: Any) -> Any:
        metadata = json.loads(answer.text)
        metadata["scopes_supported"].remove("urn:logto:scope:organizations")
        return dataclasses.replace(answer, text=json.dumps(metadata))

    with_answer(monkeypatch, "/.well-known/openid-configuration", without_organizations)
    found = failed_organizations_check(settings)
    assert "this Logto has no organizations" in found
    assert "LOGTO['ORGANIZATION_PERMISSIONS']" in found  # the fix names the setting


def test_a_refused_organizations_resource_fails_the_organizations_check(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(answer: Any) -> Any:
        location = f"{TEST_CLIENT_ORIGIN}/logto/callback/?error=invalid_target"
        return dataclasses.replace(answer, status=303, headers={"location": location}, text="")

    with_answer(monkeypatch, "resource=urn%3Alogto%3Aresource%3Aorganizations", refused)
    assert "invalid_target" in failed_organizations_check(settings)
