"""The demo site's own pages."""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from logto_auth.conf import logto_settings

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse


def home(request: HttpRequest) -> HttpResponse:
    # Ends the Logto session only: the site learns of it through back-channel logout.
    provider_sign_out = f"{logto_settings.issuer}/session/end?" + urllib.parse.urlencode(
        {
            "client_id": logto_settings.app_id,
            "post_logout_redirect_uri": request.build_absolute_uri("/"),
        }
    )
    return render(request, "home.html", {"provider_sign_out_url": provider_sign_out})


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user_info = request.logto.fetch_user_info()  # type: ignore[attr-defined]
    return render(request, "profile.html", {"user_info": user_info})
