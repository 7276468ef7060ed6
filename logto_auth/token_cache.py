"""Access tokens already verified, so that a client repeating its token pays the
signature check once: a bounded LRU per process (``LOGTO['API_TOKEN_CACHE_SIZE']``), each
entry dropped when its token expires. Entries keep the claims as JSON text, so every hit
decodes its own copy (a few microseconds): a view editing its token's claims changes
nothing for the next request with that token."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from typing import Any

from logto_auth.conf import logto_settings


class VerifiedTokens:
    """Verified token claims by token, least recently used first out, kept until ``exp``."""

    def __init__(self) -> None:
        # token key -> (exp, claims as JSON text)
        self._entries: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None:
        """Return a fresh copy of the claims, or ``None`` when unknown or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, claims = entry
            if expires + logto_settings.leeway <= time.time():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
        found: dict[str, Any] = json.loads(claims)
        return found

    def put(self, key: tuple[str, str], claims: dict[str, Any]) -> None:
        size = logto_settings.api_token_cache_size
        entry = (claims["exp"], json.dumps(claims))
        with self._lock:
            self._entries[key] = entry
            while len(self._entries) > size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


verified_tokens = VerifiedTokens()
