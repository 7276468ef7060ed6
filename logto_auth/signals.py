"""Signal receivers, connected in ``LogtoAuthConfig.ready``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from logto_auth.models import LogtoSession

if TYPE_CHECKING:
    from django.http import HttpRequest


@receiver(user_logged_out, dispatch_uid="logto_auth.forget_session")
def forget_session(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    """Drop the ended session from the back-channel logout index."""
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        LogtoSession.objects.filter(session_key=key).delete()
