"""Internal: may change in any release.

The users of bearer tokens as this process read them lately. ``_bearer.user_for`` reads a
token's user from the database at most once per ``LOGTO['API_USER_MAX_AGE']`` seconds per
``sub``; each request in between gets a copy of its own, so that what one request does to
its user (a permission cache, an attribute) no other request sees. Saving or deleting the
user or its Logto identity in this process forgets it at once; a change made by another
process reaches this one within the max age. Bounded like the verified tokens
(``LOGTO['API_TOKEN_CACHE_SIZE']``).
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from logto_auth._memo import Memo
from logto_auth.conf import logto_settings
from logto_auth.models import LogtoIdentity

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

recent: Memo[str, AbstractBaseUser] = Memo(lambda: logto_settings.api_token_cache_size)


def _copy(user: AbstractBaseUser) -> AbstractBaseUser:
    """A copy of ``user`` as loaded: its own state, nothing another request cached on it."""
    found = copy.copy(user)
    found._state.fields_cache = {}
    return found


def recalled(sub: str) -> AbstractBaseUser | None:
    """A copy of the user of ``sub`` read less than the max age ago, else ``None``."""
    user = recent.get(sub)
    return None if user is None else _copy(user)


def remember(sub: str, user: AbstractBaseUser) -> None:
    """Keep ``user``, just read from the database, as the user of ``sub`` for the max age."""
    max_age = logto_settings.api_user_max_age
    if max_age > 0:
        recent.put(sub, _copy(user), time.time() + max_age)


@receiver(post_save, sender=LogtoIdentity, dispatch_uid="logto_auth.api_users.identity_saved")
@receiver(post_delete, sender=LogtoIdentity, dispatch_uid="logto_auth.api_users.identity_gone")
def forget_identity(sender: Any, instance: LogtoIdentity, **kwargs: Any) -> None:
    if len(recent):
        recent.discard(lambda sub, user: sub == instance.sub)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="logto_auth.api_users.saved")
@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="logto_auth.api_users.gone")
def forget_user(sender: Any, instance: AbstractBaseUser, **kwargs: Any) -> None:
    if len(recent):
        recent.discard(lambda sub, user: user.pk == instance.pk)
