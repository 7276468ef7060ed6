from django.contrib import admin
from django.urls import include, path

from config import views

urlpatterns = [
    path("", views.home, name="home"),
    path("profile/", views.profile, name="profile"),
    path("logto/", include("logto_auth.urls")),
    path("admin/", admin.site.urls),
]
