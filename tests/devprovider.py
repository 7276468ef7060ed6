"""Drive the development provider (``devprovider/``) from tests: start it, sign in on its
login page over plain HTTP, and read its debug endpoints."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
APP_ID = "django-demo"
# Django's test client (and pytest-django's) serves the site as http://testserver.
TEST_CLIENT_ORIGIN = "http://testserver"
M2M_APP_ID = "django-m2m"
M2M_APP_SECRET = "django-m2m-secret"
PASSWORDS = {"alice": "alice-password", "bob": "bob-password", "carol": "carol-password"}
APP_SECRET = "django-demo-secret"
# Registered by default for the demo application.
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/logto/callback/"
# The dev provider's default webhook signing key (DEV_PROVIDER_WEBHOOK_SIGNING_KEY).
WEBHOOK_SIGNING_KEY = "dev-webhook-signing-key"
ORGANIZATIONS_SCOPE = "urn:logto:scope:organizations"
ORGANIZATIONS_RESOURCE = "urn:logto:resource:organizations"


class DevProvider:
    def __init__(self, port: int = 0, **env: str) -> None:
        self.requested_port = port
        self.env = env
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []

    @property
    def issuer(self) -> str:
        return f"{self.url}/oidc"

    def start(self) -> DevProvider:
        env = {**os.environ, "DEV_PROVIDER_PORT": str(self.requested_port), **self.env}
        # DEV_PROVIDER_SERVER: another server script (e.g. an older dev provider, to see
        # which fidelity tests it fails).
        server = os.environ.get("DEV_PROVIDER_SERVER") or str(ROOT / "devprovider" / "server.js")
        self.process = subprocess.Popen(
            ["node", server],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            found = re.match(r"Logto dev provider listening on (http://\S+)", line)
            if found:
                self.url = found.group(1)
                break
        else:
            self.process.wait(timeout=10)
            self.process.stdout.close()
            self.process = None
            raise RuntimeError("The dev provider did not start:\n" + "".join(self.output))
        # Keep draining its log so that it never blocks on a full pipe.
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        return self

    def _drain(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self._drainer.join(timeout=5)
            assert self.process.stdout is not None
            self.process.stdout.close()
            self.process = None

    # Debug endpoints
    def _debug(self, name: str, method: str = "GET") -> object:
        response = requests.request(method, f"{self.url}/__dev__/{name}", timeout=5)
        response.raise_for_status()
        return response.json()

    def counters(self) -> dict[str, int]:
        return self._debug("counters")  # type: ignore[return-value]

    def connections(self) -> dict[str, int]:
        """Per path, the distinct TCP connections its requests came on."""
        return self._debug("connections")  # type: ignore[return-value]

    def calls(self) -> int:
        """Provider requests served for OpenID endpoints (everything under /oidc)."""
        return sum(n for path, n in self.counters().items() if path.startswith("/oidc"))

    def auth_requests(self) -> list[dict[str, object]]:
        return self._debug("auth-requests")  # type: ignore[return-value]

    def backchannel(self) -> list[dict[str, Any]]:
        """Each back-channel logout the provider attempted, with its ``logout_token``."""
        return self._debug("backchannel")  # type: ignore[return-value]

    def webhooks(self, event: str | None = None) -> list[dict[str, Any]]:
        """Each webhook the provider sent (or, without DEV_PROVIDER_WEBHOOK_URL, would have
        sent): ``event``, ``body`` (the raw JSON text), ``signature`` (the
        ``logto-signature-sha-256`` header), ``target``, ``hook_id``, and ``status`` or
        ``error``; only those of ``event`` when given."""
        deliveries: list[dict[str, Any]] = self._debug("webhooks")  # type: ignore[assignment]
        return [d for d in deliveries if event is None or d["event"] == event]

    def trigger_webhook(self, event: str, **fields: Any) -> dict[str, Any]:
        """Send any webhook event; ``fields`` are the body's members (``data``, ``params``,
        ...). ``user_id=...`` without ``data`` makes ``data`` that user as Logto describes
        it. Returns the delivery."""
        if "user_id" in fields:
            fields["userId"] = fields.pop("user_id")
        delivery = self._json("POST", "webhooks", {"event": event, **fields})
        return delivery  # type: ignore[return-value]

    def organizations(self) -> list[dict[str, Any]]:
        """Every organization, as Logto describes it, with ``members`` ([{id, roles}])."""
        return self._debug("organizations")  # type: ignore[return-value]

    def create_organization(
        self, name: str, description: str | None = None, id: str | None = None
    ) -> dict[str, Any]:
        """Create an organization (webhook ``Organization.Created``); returns it."""
        body: dict[str, Any] = {"name": name, "description": description}
        if id is not None:
            body["id"] = id
        return self._json("POST", "organizations", body)  # type: ignore[return-value]

    def update_organization(self, organization_id: str, **changes: str | None) -> dict[str, Any]:
        """Change ``name`` and/or ``description`` (webhook ``Organization.Data.Updated``)."""
        organization = self._json("PATCH", f"organizations/{organization_id}", changes)
        return organization  # type: ignore[return-value]

    def delete_organization(self, organization_id: str) -> None:
        """Delete an organization (webhook ``Organization.Deleted``, no membership events)."""
        self._json("DELETE", f"organizations/{organization_id}")

    def add_members(
        self, organization_id: str, user_ids: list[str], roles: list[str] | tuple[str, ...] = ()
    ) -> list[str]:
        """Add users (with these organization roles) to an organization (webhook
        ``Organization.Membership.Updated``, ``addedUserIds``); returns the ids added."""
        answer = self._json(
            "POST",
            f"organizations/{organization_id}/users",
            {"userIds": list(user_ids), "roles": list(roles)},
        )
        return list(answer["addedUserIds"])  # type: ignore[index]

    def remove_member(self, organization_id: str, user_id: str) -> None:
        """Remove a member (webhook ``Organization.Membership.Updated``, ``removedUserIds``)."""
        self._json("DELETE", f"organizations/{organization_id}/users/{user_id}")

    def set_organization_roles(self, organization_id: str, user_id: str, roles: list[str]) -> None:
        """Replace a member's roles in an organization (Logto sends no webhook for it)."""
        path = f"organizations/{organization_id}/users/{user_id}/roles"
        self._json("PUT", path, {"roles": roles})

    def add_organization_role_scopes(self, role: str, scopes: list[str]) -> None:
        """Give an organization role more organization permissions (webhooks
        ``OrganizationScope.Created`` for new ones, ``OrganizationRole.Scopes.Updated``);
        tokens show them only after the next sign-in."""
        self._json("POST", f"organization-roles/{role}/scopes", {"scopes": scopes})

    def reset_organizations(self) -> None:
        """Undo what the organization helpers above changed (no webhook is sent): for a test
        that changes organizations on a provider other tests share."""
        self._debug("reset-organizations", "POST")

    def _json(self, method: str, name: str, body: Any = None) -> object:
        response = requests.request(method, f"{self.url}/__dev__/{name}", json=body, timeout=15)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._debug("reset", "POST")

    def rotate_keys(self) -> None:
        self._debug("rotate-keys", "POST")

    def register(
        self,
        redirect_uris: list[str] | tuple[str, ...] = (),
        post_logout_redirect_uris: list[str] | tuple[str, ...] = (),
        client_id: str = APP_ID,
    ) -> None:
        """Add redirect and post-logout redirect URIs to an application's registered lists
        (the provider refuses any other, as Logto does)."""
        response = requests.post(
            f"{self.url}/__dev__/clients/{client_id}/redirect-uris",
            json={
                "redirect_uris": list(redirect_uris),
                "post_logout_redirect_uris": list(post_logout_redirect_uris),
            },
            timeout=5,
        )
        response.raise_for_status()

    def register_site(self, origin: str) -> DevProvider:
        """Register the demo site at ``origin``: its callback and its home page (where
        sign-out returns)."""
        self.register([f"{origin}/logto/callback/"], [f"{origin}/"])
        return self

    def set_user_state(self, user_id: str, action: str) -> None:
        """``suspend``, ``unsuspend`` or ``delete`` a user, as Logto's Management API would
        (no back-channel logout is sent)."""
        self._debug(f"users/{user_id}/{action}", "POST")

    def machine_token(self, resource: str, scope: str = "read:profile") -> str:
        """An access token for the machine-to-machine application (client credentials)."""
        response = requests.post(
            f"{self.issuer}/token",
            data={"grant_type": "client_credentials", "resource": resource, "scope": scope},
            auth=(M2M_APP_ID, M2M_APP_SECRET),
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    # A client of its own (no Django): sign in and use the token endpoint directly
    def sign_in_tokens(
        self,
        username: str = "alice",
        scope: str = f"openid offline_access {ORGANIZATIONS_SCOPE}",
        resources: list[str] | tuple[str, ...] = (),
        **params: str,
    ) -> dict[str, Any]:
        """Sign ``username`` in as the demo application would (``prompt=consent``, redirect
        to the default callback) with these ``scope`` and ``resource`` values; exchange the
        code and return the token response."""
        query: list[tuple[str, str]] = [
            ("client_id", APP_ID),
            ("redirect_uri", DEFAULT_REDIRECT_URI),
            ("response_type", "code"),
            ("scope", scope),
            ("prompt", "consent"),
            ("state", "st"),
            *(("resource", resource) for resource in resources),
            *params.items(),
        ]
        callback = self.authorize(f"{self.issuer}/auth?{urllib.parse.urlencode(query)}", username)
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query)["code"][0]
        response = self.token(
            grant_type="authorization_code", code=code, redirect_uri=DEFAULT_REDIRECT_URI
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def token(self, **form: str) -> requests.Response:
        """A token request of the demo application (client_secret_basic)."""
        return requests.post(
            f"{self.issuer}/token", data=form, auth=(APP_ID, APP_SECRET), timeout=10
        )

    def refresh(self, refresh_token: str, **extra: str) -> requests.Response:
        """A refresh_token grant with ``extra`` (``organization_id``, ``resource``,
        ``scope``)."""
        return self.token(grant_type="refresh_token", refresh_token=refresh_token, **extra)

    def userinfo(self, access_token: str) -> dict[str, Any]:
        response = requests.get(
            f"{self.issuer}/me", headers={"Authorization": f"Bearer {access_token}"}, timeout=10
        )
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    # The login page, as a browser would use it
    def authorize(
        self,
        auth_url: str,
        username: str = "alice",
        password: str | None = None,
        http: requests.Session | None = None,
    ) -> str:
        """Sign in at ``auth_url`` and return the URL the provider redirects back to.

        Pass ``http`` to keep the provider's session cookie, as a browser does.
        """
        http = http or requests.Session()
        url = auth_url
        for _ in range(10):
            response = http.get(url, allow_redirects=False, timeout=10)
            if response.status_code == 200:
                break
            url = urllib.parse.urljoin(url, response.headers["Location"])
        else:
            raise AssertionError(f"No login page reached from {auth_url}")
        form = parse_form(response.text)
        data = {**form.fields, "username": username, "password": password or PASSWORDS[username]}
        return self._submit(http, urllib.parse.urljoin(url, form.action), data)

    def sign_in_over_http(self, site_url: str, username: str, http: requests.Session) -> str:
        """Sign ``http`` (a browser's cookie jar) in to the Django site at ``site_url``;
        return where the site's callback redirects."""
        start = http.get(f"{site_url}/logto/sign-in/", allow_redirects=False, timeout=10)
        callback = self.authorize(start.headers["Location"], username)
        done = http.get(callback, allow_redirects=False, timeout=10)
        assert done.status_code == 302, done.text
        return str(done.headers["Location"])

    def end_session(self, url: str, http: requests.Session | None = None) -> str:
        """Follow the provider's end-session page (its form) and return where it sends us."""
        http = http or requests.Session()
        response = http.get(url, allow_redirects=False, timeout=10)
        assert response.status_code == 200, response.text
        form = parse_form(response.text)
        return self._submit(http, urllib.parse.urljoin(url, form.action), form.fields)

    def _submit(self, http: requests.Session, url: str, data: dict[str, str]) -> str:
        """POST a provider form; follow its redirects until one leaves the provider."""
        response = http.post(url, data=data, allow_redirects=False, timeout=10)
        for _ in range(10):
            assert response.status_code in (302, 303), response.text
            url = urllib.parse.urljoin(url, response.headers["Location"])
            if not url.startswith(self.url):
                return url
            response = http.get(url, allow_redirects=False, timeout=10)
        raise AssertionError("The provider never redirected back")


class Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and not self.action:
            self.action = values.get("action") or ""
            self._in_form = True
        elif tag == "input" and self._in_form and values.get("name"):
            self.fields[values["name"] or ""] = values.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def parse_form(html: str) -> Form:
    form = Form()
    form.feed(html)
    assert form.action, f"No form in page:\n{html[:500]}"
    return form
