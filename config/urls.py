from django.contrib import admin
from django.urls import include, path

from config import views

urlpatterns = [
    path("", views.home, name="home"),
    path("profile/", views.profile, name="profile"),
    path("orgs/<str:organization_id>/", views.organization, name="organization"),
    path("api/me/", views.api_me, name="api_me"),
    path("api/drf/me/", views.DrfMeView.as_view(), name="api_drf_me"),
    path(
        "api/organizations/<str:organization_id>/me/",
        views.api_organization,
        name="api_organization",
    ),
    path("logto/", include("logto_auth.urls")),
    path("admin/", admin.site.urls),
    # set_language: the language switcher of the demo's pages.
    path("i18n/", include("django.conf.urls.i18n")),
]
