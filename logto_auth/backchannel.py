"""OpenID Connect Back-Channel Logout 1.0: the provider tells us a Logto session ended.

The logout token is validated by ``tokens.py``; its ``jti`` is remembered in Django's cache
until the token expires, so a replayed token is refused on every instance, unless ending
the sessions failed: then it is forgotten, so that the provider's retry can end them.
"""

from __future__ import annotations

import logging
import time

from django.core.cache import cache
from django.views.decorators.debug import sensitive_variables

from logto_auth import sessions
from logto_auth.conf import logto_settings
from logto_auth.exceptions import InvalidToken
from logto_auth.tokens import validate_logout_token

logger = logging.getLogger(__name__)


@sensitive_variables()
def log_out(logout_token: str) -> int:
    """Validate ``logout_token`` and end the Django sessions it names; return how many.

    Raise ``InvalidToken`` when the token is not acceptable. An unknown session is not an
    error: Logto also notifies the site that started the sign-out, whose session is gone.
    An error while ending the sessions (a database error) propagates, with the ``jti``
    unrecorded.
    """
    claims = validate_logout_token(logout_token)
    key = sessions.cache_key("jti", claims["jti"])
    ttl = max(1, int(claims["exp"] - time.time()) + logto_settings.leeway)
    # Taken before acting (``add`` is atomic), so that two deliveries at once act once.
    if not cache.add(key, 1, ttl):
        raise InvalidToken("This logout token was already used.")
    try:
        ended = sessions.end_sessions(sid=claims.get("sid"), sub=claims.get("sub"))
    except BaseException:
        # The sessions may survive: forget the jti so that the provider's retry, which the
        # 500 this error becomes asks for, is not refused as a replay.
        cache.delete(key)
        raise
    logger.info(
        "Back-channel logout of sub=%s sid=%s ended %s session(s)",
        claims.get("sub"),
        claims.get("sid"),
        ended,
    )
    return ended
