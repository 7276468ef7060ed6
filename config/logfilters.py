"""Logging filters of the demo site."""

from __future__ import annotations

import logging


class ExpectedRefusals(logging.Filter):
    """Log a refused request (403) as its one line, without the traceback.

    Django logs ``PermissionDenied`` with the exception attached: a user without a right
    clicking a link is expected, not a crash, and a traceback in the console says otherwise.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
