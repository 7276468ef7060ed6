"""The signals logto_auth sends, and its receivers (connected in ``LogtoAuthConfig.ready``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import Signal, receiver

from logto_auth.models import LogtoSession

if TYPE_CHECKING:
    from django.http import HttpRequest

__all__ = ["logto_user_synced", "organization_changed"]

logto_user_synced = Signal()
"""Sent after a user was brought in line with Logto (sign-in, token refresh, webhook).

Arguments: ``user``, ``claims`` and ``created``. Sender: the backend class.
"""

organization_changed = Signal()
"""Sent when a session's current organization changes: chosen with the switch view, set
at sign-in (the last one used, else the only one), or ended (membership over at Logto).

Arguments: ``request``, ``organization_id`` (the new one, or ``None``) and ``previous_id``
(or ``None``). Sender: ``"logto_auth"``. Read ``request.logto.organization`` for the rest.
"""


@receiver(user_logged_out, dispatch_uid="logto_auth.forget_session")
def forget_session(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    """Drop the ended session from the back-channel logout index."""
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        LogtoSession.objects.filter(session_key=key).delete()
