"""The demo's URLs plus mozilla-django-oidc's, so both can sign in side by side."""

from django.urls import include, path

from config.urls import urlpatterns as demo

urlpatterns = [*demo, path("oidc/", include("mozilla_django_oidc.urls"))]
