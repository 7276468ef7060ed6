"""Django REST framework classes over the one bearer-token policy (DRF is optional: only
this module imports it).

For example:

    class ProfileView(APIView):
        authentication_classes = [LogtoTokenAuthentication]
        permission_classes = [HasLogtoScopes]
        required_scopes = ["read:profile"]

View attributes read by these classes: ``required_scopes`` (a list, or a dict by HTTP
method: a method left out is refused, ``[]`` leaves one open), ``logto_resource``
(default ``LOGTO['API_RESOURCES']``) and ``logto_organization`` (accept organization
tokens only, for the URL's ``organization_id`` when it has one).
``LogtoTokenAuthentication`` enforces them all, through the same policy as the view
decorator, whatever the permission classes. With Django's ``LoginRequiredMiddleware``,
mark such views ``@method_decorator(login_not_required, name="dispatch")`` so that a
request without a token gets DRF's 401, not a redirect to the login page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.functional import SimpleLazyObject
from rest_framework import authentication, exceptions, permissions

from logto_auth import _bearer, _organizations

if TYPE_CHECKING:
    from collections.abc import Iterable

    from rest_framework.request import Request
    from rest_framework.views import APIView

__all__ = [
    "BearerChallenge",
    "HasLogtoOrganization",
    "HasLogtoScopes",
    "IsLogtoOrganizationMember",
    "LogtoTokenAuthentication",
]


class BearerChallenge(exceptions.APIException):  # type: ignore[misc]
    """A refused bearer token as DRF answers it: the status, header and body the views give."""

    def __init__(self, error: _bearer.BearerError) -> None:
        super().__init__(detail=error.as_dict(), code=error.error)
        self.status_code = error.status
        self.auth_header = error.www_authenticate()


def view_scopes(request: Request, view: APIView | None) -> tuple[str, ...]:
    """Return ``view.required_scopes``, or its entry for the request's method (a method it
    leaves out raises ``_bearer.BearerError``, see ``_bearer.scopes_for``)."""
    return _bearer.scopes_for(getattr(view, "required_scopes", ()), request.method)


class LogtoTokenAuthentication(authentication.BaseAuthentication):  # type: ignore[misc]
    """Authenticate ``Authorization: Bearer <Logto access token>``.

    ``request.user`` becomes the Django user linked to the token's ``sub`` (or
    ``AnonymousUser``: machine-to-machine tokens, users who never signed in to the site),
    ``request.auth`` and ``request.logto`` the validated ``_bearer.LogtoToken``.
    """

    create_unknown_user = False
    """Create a Django user for a token whose ``sub`` has none yet (default ``False``)."""

    def authenticate(self, request: Request) -> tuple[Any, _bearer.LogtoToken] | None:
        context = request.parser_context or {}
        view = context.get("view")
        try:
            token = _bearer.authorize(
                request._request,
                # The raw attribute: a method it leaves out is refused after the token
                # is validated, so a request without one still gets 401.
                scopes=getattr(view, "required_scopes", ()),
                resource=getattr(view, "logto_resource", None),
                organization=getattr(view, "logto_organization", False),
                url_kwargs=context.get("kwargs"),
            )
        except _bearer.MissingToken:
            return None  # not for this scheme: other authentication classes may try
        except _bearer.BearerError as error:
            raise BearerChallenge(error) from error
        request._request.logto = token
        return self.get_user(token), token

    def get_user(self, token: _bearer.LogtoToken) -> Any:
        """By default, return the linked user, looked up only when the view reads it."""
        return SimpleLazyObject(lambda: _bearer.user_for(token, create=self.create_unknown_user))

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


def _token(request: Request) -> _bearer.LogtoToken:
    """Return the request's Logto token; without one, refuse as the view decorator does."""
    if isinstance(request.auth, _bearer.LogtoToken):
        return request.auth
    if request.successful_authenticator is None:
        raise BearerChallenge(_bearer.MissingToken())
    # Authenticated by another scheme (a session): a Logto token was needed.
    raise exceptions.PermissionDenied()


class HasLogtoScopes(permissions.BasePermission):  # type: ignore[misc]
    """Allow a Logto token with every scope the view's ``required_scopes`` names.

    A missing scope answers 403 ``insufficient_scope``; no token, 401.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        token = _token(request)
        try:
            # LogtoTokenAuthentication checked view_scopes already; this applies a
            # subclass's required_scopes with the same rule and the same answer.
            _bearer.check_scopes(token, self.required_scopes(request, view))
        except _bearer.BearerError as error:
            raise BearerChallenge(error) from error
        return True

    def required_scopes(self, request: Request, view: APIView) -> Iterable[str]:
        """By default, return ``view.required_scopes`` (or its entry for the method)."""
        return view_scopes(request, view)


class HasLogtoOrganization(permissions.BasePermission):  # type: ignore[misc]
    """Allow an organization token for the organization in the URL (``organization_id``).

    In Logto, organization roles reach access tokens as the permissions (scopes) they
    grant within that organization: combine with ``HasLogtoScopes`` to require them. Set
    ``logto_organization = True`` on the view so that organization tokens authenticate
    (``LogtoTokenAuthentication`` then checks the URL's organization itself).
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        token = _token(request)
        try:
            _bearer.check_organization(token, view.kwargs.get(_bearer.ORGANIZATION_KWARG))
        except _bearer.BearerError as error:
            raise BearerChallenge(error) from error
        return True


class IsLogtoOrganizationMember(permissions.BasePermission):  # type: ignore[misc]
    """Allow a user signed in to the site (a session, e.g. DRF's ``SessionAuthentication``)
    who belongs to the organization, with the roles and permissions the view names: the
    check of ``logto_organization_required``.

    View attributes: ``organization_roles``, ``organization_permissions`` and
    ``organization_url_kwarg`` (default ``organization_id``; without it in the URL, the
    current organization). Bearer-token requests are refused: use ``HasLogtoOrganization``.
    """

    message = _organizations.NOT_A_MEMBER

    def has_permission(self, request: Request, view: APIView) -> bool:
        logto: Any = getattr(request._request, "logto", None)
        if not (hasattr(logto, "get_organization") and logto.is_authenticated):
            return False
        if not (request.user and request.user.is_authenticated and request.user.is_active):
            return False
        needs = _organizations.Needs.of(
            getattr(view, "organization_roles", ()),
            getattr(view, "organization_permissions", ()),
            getattr(view, "organization_url_kwarg", _organizations.URL_KWARG),
        )
        refused = _organizations.check(logto, needs, view.kwargs)
        if refused is not None:
            raise exceptions.PermissionDenied(str(refused))
        return True
