"""Template context processors: add ``"logto_auth.context_processors.organization"`` to
``TEMPLATES[...]["OPTIONS"]["context_processors"]``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest

__all__ = ["organization"]


def organization(request: HttpRequest) -> dict[str, Any]:
    """Add ``logto_organization``, the current organization (or ``None``), and
    ``logto_organizations``, every organization the user belongs to.

    Both are read only when a template uses them. In a template,
    ``{% if "invite:member" in logto_organization.permissions %}`` asks the user's
    organization token (see docs/organizations.md); ``{% include
    "logto_auth/organization_switcher.html" %}`` shows the switch.
    """
    logto: Any = getattr(request, "logto", None)
    if not hasattr(logto, "get_organization"):  # no LogtoMiddleware, or a bearer token
        return {"logto_organization": None, "logto_organizations": []}
    # Templates call callables: the organization is looked up when first used.
    return {
        "logto_organization": logto.get_organization,
        "logto_organizations": logto.get_organizations,
    }
