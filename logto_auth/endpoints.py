"""Logto's userinfo, revocation and introspection endpoints (calls the SDK does not make).

Each goes through ``provider.fetch_json``: one timeout, one error mapping.
"""

from __future__ import annotations

import base64
import logging
import urllib.parse
from typing import Any

from django.views.decorators.debug import sensitive_variables

from logto_auth.conf import logto_settings
from logto_auth.exceptions import LogtoError, ProviderError
from logto_auth.provider import fetch_json, provider

logger = logging.getLogger(__name__)


@sensitive_variables()
def user_info(access_token: str, sub: str) -> dict[str, Any]:
    """Fetch the userinfo endpoint with an (opaque) access token of the user ``sub``."""
    endpoint = provider().metadata()["userinfo_endpoint"]
    info = fetch_json(endpoint, headers={"Authorization": f"Bearer {access_token}"})
    if not isinstance(info, dict) or info.get("sub") != sub:
        raise ProviderError("The sign-in service sent userinfo for another user.")
    return info


@sensitive_variables()
def revoke(refresh_token: str) -> None:
    """Revoke ``refresh_token`` at the provider; a failure is logged, never raised."""
    try:
        endpoint = provider().metadata().get("revocation_endpoint")
        if isinstance(endpoint, str):
            data = {"token": refresh_token, "token_type_hint": "refresh_token"}
            fetch_json(endpoint, data=data, headers=client_auth(), expect_json=False)
    except LogtoError as error:
        logger.warning("Could not revoke the refresh token at sign-out: %s", error)


@sensitive_variables()
def refresh_token_is_active(refresh_token: str) -> bool:
    """Ask the introspection endpoint whether ``refresh_token`` is still honoured."""
    endpoint = provider().metadata().get("introspection_endpoint")
    if not isinstance(endpoint, str):
        raise ProviderError("The sign-in service has no introspection endpoint.")
    data = {"token": refresh_token, "token_type_hint": "refresh_token"}
    answer = fetch_json(endpoint, data=data, headers=client_auth())
    return isinstance(answer, dict) and answer.get("active") is True


@sensitive_variables()
def client_auth() -> dict[str, str]:
    """The ``Authorization`` header of client_secret_basic (RFC 6749 section 2.3.1)."""
    pair = ":".join(
        urllib.parse.quote(v, safe="") for v in (logto_settings.app_id, logto_settings.app_secret)
    )
    return {"Authorization": f"Basic {base64.b64encode(pair.encode()).decode()}"}
