"""Access tokens already verified, so that a client repeating its token pays the
signature check once: a bounded LRU per process (``LOGTO['API_TOKEN_CACHE_SIZE']``), each
entry dropped when its token expires."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from logto_auth.conf import logto_settings


class VerifiedTokens:
    """Verified token claims by token, least recently used first out, kept until ``exp``."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None:
        with self._lock:
            claims = self._entries.get(key)
            if claims is None:
                return None
            if claims["exp"] + logto_settings.leeway <= time.time():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return claims

    def put(self, key: tuple[str, str], claims: dict[str, Any]) -> None:
        size = logto_settings.api_token_cache_size
        with self._lock:
            self._entries[key] = claims
            while len(self._entries) > size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


verified_tokens = VerifiedTokens()
