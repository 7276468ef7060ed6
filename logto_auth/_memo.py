"""Internal: may change in any release.

``Memo``: what one process remembers for a while, shared by its threads. A bounded map whose
entries each keep until their own deadline (``time.time()``), least recently used first
out: the verified access tokens (``_tokens``), the users of bearer tokens
(``_api_users``) and the organizations found fresh (``_organization_data``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

K = TypeVar("K")
V = TypeVar("V")


class Memo(Generic[K, V]):
    """At most ``size()`` entries, each dropped at its deadline or when the least recently
    used of a full memo."""

    def __init__(self, size: Callable[[], int]) -> None:
        self._size = size
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """Return the value kept for ``key``, or ``None`` when unknown or past its deadline."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= time.time():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: K, value: V, until: float) -> None:
        """Keep ``value`` for ``key`` until ``until`` (a ``time.time()``)."""
        size = self._size()
        with self._lock:
            self._entries[key] = (until, value)
            self._entries.move_to_end(key)
            while len(self._entries) > size:
                self._entries.popitem(last=False)

    def discard(self, matches: Callable[[K, V], bool]) -> None:
        """Forget every entry for which ``matches(key, value)`` is true."""
        with self._lock:
            for key in [key for key, (_, value) in self._entries.items() if matches(key, value)]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
