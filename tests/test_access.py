from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from tests.conftest import Site
from tests.devprovider import DevProvider

pytestmark = pytest.mark.urls("tests.urls")


@pytest.fixture
def read_scope(settings: Any) -> None:
    settings.LOGTO = {**settings.LOGTO, "SCOPES": [*settings.LOGTO["SCOPES"], "read:profile"]}


def test_anonymous_is_sent_to_sign_in(wsgi_site: Site) -> None:
    response = wsgi_site.get("/need/admin/")

    assert response.status_code == 302
    assert response["Location"] == "/logto/sign-in/?next=/need/admin/"


@pytest.mark.parametrize(
    ("user", "path", "status"),
    [
        ("alice", "/need/admin/", 200),
        ("bob", "/need/admin/", 403),
        ("alice", "/need/acme-admin/", 200),
        ("bob", "/need/acme-admin/", 403),
        ("bob", "/need/any-org-member/", 200),
        ("carol", "/need/any-org-member/", 403),
    ],
)
def test_roles_and_organization_roles(
    wsgi_site: Site, dev_provider: DevProvider, user: str, path: str, status: int
) -> None:
    wsgi_site.sign_in(dev_provider, user)

    assert wsgi_site.get(path).status_code == status


@pytest.mark.usefixtures("read_scope")
def test_scopes_of_the_resource_token(wsgi_site: Site, dev_provider: DevProvider) -> None:
    wsgi_site.sign_in(dev_provider, "bob")

    assert wsgi_site.get("/need/read/").status_code == 200
    assert wsgi_site.get("/need/write/").status_code == 403


@pytest.mark.parametrize(
    "path", ["/need/admin/", "/need/acme-admin/", "/async/need/admin/", "/async/need/acme-admin/"]
)
def test_user_deactivated_in_django_is_sent_to_sign_in(
    site: Site, dev_provider: DevProvider, path: str
) -> None:
    site.sign_in(dev_provider, "alice")
    assert site.get(path).status_code == 200
    User.objects.filter(username="alice").update(is_active=False)

    response = site.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/logto/sign-in/?next={path}"
