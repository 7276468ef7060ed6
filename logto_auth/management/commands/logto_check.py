"""``manage.py logto_check [--site ORIGIN]``: the configuration against the live tenant."""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from logto_auth._preflight import Preflight
from logto_auth.conf import logto_settings

if TYPE_CHECKING:
    from argparse import ArgumentParser

MARKS = {True: "ok  ", False: "FAIL", None: "skip"}


def default_site() -> str:
    """The site's origin when ``--site`` is not given: runserver's under DEBUG, else the
    first concrete host of ``ALLOWED_HOSTS`` over https."""
    hosts = [h for h in settings.ALLOWED_HOSTS if h and not h.startswith(".") and h != "*"]
    if settings.DEBUG or not hosts:
        return "http://127.0.0.1:8000"
    return f"https://{hosts[0]}"


def origin(value: str) -> str:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CommandError(f"--site must be an origin such as https://your.site, not {value!r}.")
    return f"{parts.scheme}://{parts.netloc}"


class Command(BaseCommand):
    help = (
        "Check LOGTO settings against the live Logto tenant: endpoint, issuer, keys, clock, "
        "app ID and secret, API resources, redirect URIs. Exit 1 when a check fails."
    )
    requires_system_checks: list[str] = []  # a broken setting is what this reports on

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--site",
            help="the site's origin, e.g. https://your.site (its callback and post-logout "
            "URIs are checked); default: http://127.0.0.1:8000 under DEBUG, else "
            "https://<first ALLOWED_HOSTS entry>",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        problems = logto_settings.problems()
        if problems:
            for _, message in problems:
                self.stdout.write(f"FAIL  settings: {message}")
            raise CommandError("Fix LOGTO first (manage.py check explains each problem).")
        site = origin(options["site"] or default_site())
        self.stdout.write(
            f"Checking {logto_settings.endpoint} for application "
            f"{logto_settings.app_id!r} and site {site}"
        )
        results = Preflight(site).run()
        for result in results:
            line = f"{MARKS[result.passed]}  {result.name}: {result.detail}"
            if result.passed is None:
                self.stdout.write(line)
            else:
                self.stdout.write((self.style.SUCCESS if result.passed else self.style.ERROR)(line))
            if result.fix:
                self.stdout.write(f"      fix: {result.fix}")
        failed = [result for result in results if result.passed is False]
        if failed:
            raise CommandError(f"{len(failed)} of {len(results)} checks failed.")
        self.stdout.write(self.style.SUCCESS(f"All {len(results)} checks passed."))
