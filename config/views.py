"""The demo site's own pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user_info = request.logto.fetch_user_info()  # type: ignore[attr-defined]
    return render(request, "profile.html", {"user_info": user_info})
