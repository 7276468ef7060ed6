"""The demo's logging: expected refusals without tracebacks."""

from __future__ import annotations

import logging
import runpy
import sys

from config.logfilters import ExpectedRefusals
from tests.devprovider import ROOT


def record(status: int) -> logging.LogRecord:
    try:
        raise PermissionError("refused")
    except PermissionError:
        exc_info = sys.exc_info()
    entry = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "x", (), exc_info)
    entry.status_code = status
    return entry


def test_a_403_is_logged_without_its_traceback() -> None:
    entry = record(403)
    assert ExpectedRefusals().filter(entry)
    assert entry.exc_info is None


def test_a_500_keeps_its_traceback() -> None:
    entry = record(500)
    assert ExpectedRefusals().filter(entry)
    assert entry.exc_info is not None


def test_the_demo_applies_the_filter_to_django_request() -> None:
    demo = runpy.run_path(str(ROOT / "config" / "settings.py"))
    assert "expected_refusals" in demo["LOGGING"]["loggers"]["django.request"]["filters"]
