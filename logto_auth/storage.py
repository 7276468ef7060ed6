"""Where the Logto SDK keeps its tokens: the Django session, or a dict for one flow.

Both classes implement the SDK's ``Storage`` protocol (``get``/``set``/``delete``);
``_sdk.py`` registers them with the SDK so that this module does not import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from logto_auth._sessions import TOKEN_KEYS as KEYS
from logto_auth._sessions import TOKEN_PREFIX as PREFIX

if TYPE_CHECKING:
    from django.contrib.sessions.backends.base import SessionBase

__all__ = ["DictStorage", "SessionStorage"]


class DictStorage:
    """Tokens held in memory for one request, written to the session only on success."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values: dict[str, str] = dict(values or {})

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str | None) -> None:
        if value is None:
            self.values.pop(key, None)
        else:
            self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


class SessionStorage:
    """The SDK's storage over ``request.session``, one session key per SDK key."""

    def __init__(self, session: SessionBase) -> None:
        self.session = session
        # Load the session now, in sync code: inside the SDK's coroutines a database
        # or cache read would raise SynchronousOnlyOperation.
        session.keys()

    def get(self, key: str) -> str | None:
        value = self.session.get(PREFIX + key)
        return value if isinstance(value, str) else None

    def set(self, key: str, value: str | None) -> None:
        if value is None:
            self.delete(key)
        else:
            self.session[PREFIX + key] = value

    def delete(self, key: str) -> None:
        self.session.pop(PREFIX + key, None)

    def update(self, values: dict[str, str]) -> None:
        """Store every token of ``values`` (from a ``DictStorage``), replacing the old ones."""
        self.clear()
        for key, value in values.items():
            if key in KEYS and key != "signInSession":
                self.set(key, value)

    def clear(self) -> None:
        """Forget every Logto token in the session, keeping the site's own data."""
        for key in KEYS:
            self.delete(key)
