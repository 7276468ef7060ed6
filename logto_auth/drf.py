"""Django REST framework classes over ``logto_auth.api`` (DRF is optional: only this
module imports it).

::

    class ProfileView(APIView):
        authentication_classes = [LogtoTokenAuthentication]
        permission_classes = [HasLogtoScopes]
        required_scopes = ["read:profile"]

View attributes read by these classes: ``required_scopes`` (a list, or a dict by HTTP
method), ``logto_resource`` (default ``LOGTO['API_RESOURCES']``) and ``logto_organization``
(accept organization tokens only; see ``HasLogtoOrganization``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.functional import SimpleLazyObject
from rest_framework import authentication, exceptions, permissions

from logto_auth import api
from logto_auth.exceptions import LogtoError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from rest_framework.request import Request
    from rest_framework.views import APIView


class BearerChallenge(exceptions.APIException):  # type: ignore[misc]
    """An ``api.BearerError`` as DRF answers it: same status, header and body."""

    def __init__(self, error: api.BearerError) -> None:
        super().__init__(detail=error.as_dict(), code=error.error)
        self.status_code = error.status
        self.auth_header = error.www_authenticate()


class ProviderUnavailable(exceptions.APIException):  # type: ignore[misc]
    """The provider's keys could not be fetched (502 or 503, as ``LogtoError`` says)."""

    def __init__(self, error: LogtoError) -> None:
        super().__init__(detail={"error": "temporarily_unavailable"})
        self.status_code = error.status


class LogtoTokenAuthentication(authentication.BaseAuthentication):  # type: ignore[misc]
    """Authenticate ``Authorization: Bearer <Logto access token>``.

    ``request.user`` becomes the Django user linked to the token's ``sub`` (or
    ``AnonymousUser``: machine-to-machine tokens, users who never signed in to the site),
    ``request.auth`` and ``request.logto`` the validated ``api.LogtoToken``.
    """

    #: Create a Django user for a token whose ``sub`` has none yet.
    create_unknown_user = False

    def authenticate(self, request: Request) -> tuple[Any, api.LogtoToken] | None:
        try:
            raw = api.bearer_token(request._request)
            if raw is None:
                return None
            view = request.parser_context.get("view") if request.parser_context else None
            token = api.validate_access_token(
                raw,
                resource=getattr(view, "logto_resource", None),
                organization=getattr(view, "logto_organization", False),
            )
        except api.BearerError as error:
            raise BearerChallenge(error) from error
        except LogtoError as error:
            raise ProviderUnavailable(error) from error
        request._request.logto = token
        return self.get_user(token), token

    def get_user(self, token: api.LogtoToken) -> Any:
        """By default, return the linked user, looked up only when the view reads it."""
        return SimpleLazyObject(lambda: api.user_for(token, create=self.create_unknown_user))

    def authenticate_header(self, request: Request) -> str:
        return api.BearerError(401).www_authenticate()


def _token(request: Request) -> api.LogtoToken | None:
    return request.auth if isinstance(request.auth, api.LogtoToken) else None


class HasLogtoScopes(permissions.BasePermission):  # type: ignore[misc]
    """Allow a Logto token with every scope the view's ``required_scopes`` names.

    A missing scope answers 403 ``insufficient_scope``; no token, 401.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        token = _token(request)
        if token is None:
            return False
        try:
            api.check_scopes(token, self.required_scopes(request, view))
        except api.BearerError as error:
            raise BearerChallenge(error) from error
        return True

    def required_scopes(self, request: Request, view: APIView) -> Iterable[str]:
        """By default, return ``view.required_scopes`` (or its entry for the method)."""
        scopes = getattr(view, "required_scopes", ())
        if isinstance(scopes, dict):
            return tuple(scopes.get(request.method, ()))
        return tuple(scopes)


class HasLogtoOrganization(permissions.BasePermission):  # type: ignore[misc]
    """Allow an organization token for the organization in the URL (``organization_id``).

    In Logto, organization roles reach access tokens as the permissions (scopes) they
    grant within that organization: combine with ``HasLogtoScopes`` to require them. Set
    ``logto_organization = True`` on the view so that organization tokens authenticate.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        token = _token(request)
        if token is None:
            return False
        try:
            api.check_organization(token, view.kwargs.get(api.ORGANIZATION_KWARG))
        except api.BearerError as error:
            raise BearerChallenge(error) from error
        return True
