"""Internal: may change in any release.

Every HTTP call to the provider: one timeout (``LOGTO['TIMEOUT']``, each call as a whole),
one error mapping, over the process's kept connections (``_connections.py``: shared by its
threads, sent in the calling thread; async code calls through ``sync_to_async``, in a
thread that is not the database's). A token request that meets a connection the provider
is closing is never sent again and fails like any unreachable provider
(``ProviderUnavailable``); ``_connections.py`` says why.

``send`` is the one request (the SDK's token and userinfo requests, ``_sdk.py``);
``fetch_json`` serves the calls of a sign-in (discovery, keys, userinfo, revocation,
introspection) and raises a ``LogtoError`` for anything but a 2xx JSON answer; ``exchange``
serves ``manage.py logto_check`` (urllib, a connection per call), which needs to see the
provider's refusals (status, headers, body, redirect) rather than have them mapped away.
``map_error`` is applied to the SDK's calls as well (``_sdk.py``).
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt
import pydantic
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from logto_auth import _connections
from logto_auth.conf import logto_settings
from logto_auth.exceptions import LogtoError, ProviderError, ProviderUnavailable

if TYPE_CHECKING:
    from collections.abc import Mapping

logger = logging.getLogger(__name__)


def map_error(error: BaseException) -> LogtoError:
    """Return the ``LogtoError`` for a failed provider call."""
    if isinstance(error, LogtoError):
        return error
    if isinstance(error, _connections.TooLarge):
        logger.warning("Provider sent an answer over %s bytes", _connections.MAX_ANSWER)
        return ProviderError(_("The sign-in service sent an answer too large to read."))
    if isinstance(error, TimeoutError):
        logger.warning("Provider call timed out after %ss", logto_settings.timeout)
        return ProviderUnavailable(_("The sign-in service did not answer in time."))
    if isinstance(error, urllib.error.HTTPError):
        logger.warning("Provider answered %s for %s", error.code, error.url)
        return ProviderError(_("The sign-in service answered HTTP %(status)s."), status=error.code)
    if isinstance(error, OSError):  # urllib's URLError included
        logger.warning("Provider unreachable: %s", error)
        return ProviderUnavailable(_("The sign-in service could not be reached."))
    logger.warning("Unexpected answer from the provider: %r", error)
    return ProviderError(_("The sign-in service sent an unexpected answer."))


# What a provider call may raise besides LogtoError, for map_error.
PROVIDER_FAILURES = (
    TimeoutError,
    OSError,
    http.client.HTTPException,
    pydantic.ValidationError,
    jwt.PyJWTError,
    ValueError,
)


def _prepared(
    url: str, data: Mapping[str, str | None] | None, headers: dict[str, str] | None
) -> tuple[bytes | None, dict[str, str]]:
    """The body (``data`` as a form, its ``None`` values left out) and headers of a request
    to ``url``, which must be an HTTP(S) URL."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ProviderError(_("Refusing to fetch a non-HTTP URL: %(url)s"), url=url)
    if data is None:
        body = None
    else:
        # A public application has no secret: the parameter is left out, not sent as "None".
        body = urllib.parse.urlencode({k: v for k, v in data.items() if v is not None}).encode()
    return body, {"Accept": "application/json", **(headers or {})}


@sensitive_variables()
def send(
    method: str,
    url: str,
    *,
    data: Mapping[str, str | None] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """One request to the provider within ``LOGTO['TIMEOUT']`` (``data``: a form to POST):
    its answer's status and body (``_connections.request``; what it raises, ``map_error``
    maps)."""
    body, all_headers = _prepared(url, data, headers)
    if body is not None:
        all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    timeout = logto_settings.timeout
    return _connections.request(method, url, timeout=timeout, body=body, headers=all_headers)


@sensitive_variables()
def fetch_json(
    url: str,
    *,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    expect_json: bool = True,
) -> Any:
    """GET (or POST ``data``) ``url`` within the configured timeout and return its JSON.

    From async code, call it through ``sync_to_async``.

    With ``expect_json=False`` the body is ignored and ``None`` returned.
    """
    try:
        method = "GET" if data is None else "POST"
        status, answer = send(method, url, data=data, headers=headers)
        if not 200 <= status < 300:
            logger.warning("Provider answered %s for %s", status, url)
            raise ProviderError(_("The sign-in service answered HTTP %(status)s."), status=status)
        return json.loads(answer) if expect_json else None
    except PROVIDER_FAILURES as error:
        raise map_error(error) from error


@dataclass
class Answer:
    """What the provider answered, refusals and redirects included."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def json(self) -> dict[str, Any]:
        """The body as a JSON object, or ``{}`` when it is not one (an HTML error page)."""
        try:
            value = json.loads(self.text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def error(self) -> str:
        """The OAuth ``error`` of the body or of the redirect's query, or ``""``."""
        found = self.json().get("error")
        if isinstance(found, str):
            return found
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.header("location")).query)
        return query.get("error", [""])[0]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is the answer itself: where it points tells the outcome


@sensitive_variables()
def exchange(
    url: str, *, data: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> Answer:
    """GET (or POST ``data``) ``url`` once, following no redirect, and return the answer.

    HTTP errors are answers too; only an unreachable or silent provider raises
    (``ProviderUnavailable``).
    """
    opener = urllib.request.build_opener(_NoRedirect)
    body, all_headers = _prepared(url, data, headers)
    request = urllib.request.Request(url, data=body, headers=all_headers)  # noqa: S310
    try:
        try:
            response = opener.open(request, timeout=logto_settings.timeout)
        except urllib.error.HTTPError as refusal:
            response = refusal
        with response:
            text = response.read(256 * 1024).decode("utf-8", "replace")
            found = {name.lower(): value for name, value in response.headers.items()}
            return Answer(response.status or 0, found, text)
    except PROVIDER_FAILURES as error:
        raise map_error(error) from error
