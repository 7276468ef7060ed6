"""Internal: may change in any release.

Organization permissions as Django object permissions: ``LogtoBackend.has_perm(user,
permission, organization)`` answered from the organization token of the user's request.

A backend is never given the request, and an organization's permissions live in the
session of the user's request (its organization token): ``LogtoMiddleware`` makes the
request it serves known here (``serving``, a context variable, so each thread and each
task sees its own), and a permission is answered only for the user signed in to that
request.
"""

from __future__ import annotations

import contextlib
import logging
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django.contrib.auth import SESSION_KEY

from logto_auth.exceptions import LogtoError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

# The request LogtoMiddleware is serving in this thread or task.
_served: ContextVar[HttpRequest | None] = ContextVar("logto_auth_served", default=None)


@contextlib.contextmanager
def serving(request: HttpRequest) -> Iterator[None]:
    """Make ``request`` the one whose session ``has_perm`` reads, while it is served."""
    token = _served.set(request)
    try:
        yield
    finally:
        _served.reset(token)


def _logto_of(user_obj: Any, session_user: object) -> Any:
    """``request.logto`` of the request being served, when ``user_obj`` is its user."""
    request = _served.get()
    logto = getattr(request, "logto", None)
    if not hasattr(logto, "get_organization_permissions"):
        return None  # no request, or a bearer-token one (its token is its permissions)
    if session_user is None or str(session_user) != str(getattr(user_obj, "pk", None)):
        return None
    return logto


def has_perm(user_obj: AbstractBaseUser | AnonymousUser, perm: str, organization_id: str) -> bool:
    """Return whether the served request's organization token for ``organization_id``
    grants ``perm`` to ``user_obj``: ``False`` for a user other than the request's, an
    inactive user, outside a request served by ``LogtoMiddleware``, and when the token
    cannot be had (logged); never raises."""
    request = _served.get()
    session_user = request.session.get(SESSION_KEY) if request is not None else None
    logto = _logto_of(user_obj, session_user)
    if logto is None or not user_obj.is_active:
        return False
    try:
        return perm in logto.get_organization_permissions(organization_id)
    except LogtoError as error:
        logger.warning("No permissions in organization %s: %s", organization_id, error)
        return False


async def ahas_perm(
    user_obj: AbstractBaseUser | AnonymousUser, perm: str, organization_id: str
) -> bool:
    """Like ``has_perm``, from async code."""
    request = _served.get()
    session_user = await request.session.aget(SESSION_KEY) if request is not None else None
    logto = _logto_of(user_obj, session_user)
    if logto is None or not user_obj.is_active:
        return False
    try:
        return perm in await logto.aget_organization_permissions(organization_id)
    except LogtoError as error:
        logger.warning("No permissions in organization %s: %s", organization_id, error)
        return False
