"""One Redis connection pool per process for Django's Redis cache.

Django keeps a cache object per thread and per async context, and each object makes its
own connection pool: under ASGI, where every request runs in a context (and a thread) of
its own, every request that touches the cache (a session load, a lock, a published
claim) then opens a new connection to Redis. As the cache's ``pool_class`` this shares
one pool per process and URL, so connections are reused as under WSGI:

    CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"pool_class": "config.redis_pool.SharedConnectionPool"},
    }}

redis-py's pools are thread-safe and start afresh in a forked child.
"""

from __future__ import annotations

import threading
from typing import Any

import redis


class SharedConnectionPool(redis.ConnectionPool):
    """``from_url`` returns the process's pool for that URL and options."""

    _shared: dict[str, redis.ConnectionPool] = {}  # the process's pools, by URL and options
    _creating = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Any:
        key = f"{url} {sorted(kwargs.items())!r}"
        with cls._creating:
            pool = cls._shared.get(key)
            if pool is None:
                pool = cls._shared[key] = super().from_url(url, **kwargs)
        return pool
