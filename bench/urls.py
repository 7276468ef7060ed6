"""The demo's URLs plus mozilla-django-oidc's, so both can run side by side."""

from typing import Any

from django.urls import include, path
from mozilla_django_oidc.contrib.drf import OIDCAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as demo


class MozillaMeView(APIView):  # type: ignore[misc]
    """The demo's DRF view, protected by mozilla-django-oidc instead."""

    authentication_classes = [OIDCAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]

    def get(self, request: Any) -> Response:
        return Response({"username": request.user.get_username()})


urlpatterns = [
    *demo,
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("bench/mozilla-drf/", MozillaMeView.as_view()),
]
