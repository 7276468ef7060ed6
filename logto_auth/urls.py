"""The ``logto_auth`` URL namespace: ``path("logto/", include("logto_auth.urls"))``."""

from __future__ import annotations

from django.urls import path

from logto_auth import views

__all__ = ["app_name", "urlpatterns"]

app_name = "logto_auth"
"""The URL namespace: reverse ``"logto_auth:sign_in"``, ``"logto_auth:callback"``, …"""

urlpatterns = [
    path("sign-in/", views.SignInView.as_view(), name="sign_in"),
    path("sign-up/", views.SignUpView.as_view(), name="sign_up"),
    path("callback/", views.CallbackView.as_view(), name="callback"),
    path("sign-out/", views.SignOutView.as_view(), name="sign_out"),
    path(
        "back-channel-logout/",
        views.BackChannelLogoutView.as_view(),
        name="back_channel_logout",
    ),
    path("webhooks/", views.WebhookView.as_view(), name="webhooks"),
    path("organization/", views.OrganizationView.as_view(), name="organization"),
]
"""``sign_in``, ``sign_up``, ``callback``, ``sign_out``, ``back_channel_logout``, ``webhooks``,
``organization`` (the organization switch)."""
