"""What each request costs, in response headers: database queries, Redis commands and
requests to the provider (``X-Bench-Queries``, ``X-Bench-Redis``, ``X-Bench-Provider``).

For the load test only (``bench/settings.py``): it patches redis-py, ``http.client`` (what
django-logto's calls and urllib's go through) and requests (mozilla-django-oidc's) in the
server process to count their calls for the request under way.
"""

from __future__ import annotations

import contextvars
import functools
import http.client
from collections import Counter
from collections.abc import Callable
from typing import Any

import redis
import requests
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db import connections
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse

_counts: contextvars.ContextVar[Counter[str] | None] = contextvars.ContextVar(
    "bench_counts", default=None
)


def _add(kind: str, n: int = 1) -> None:
    counts = _counts.get()
    if counts is not None:  # the context is copied into threads and loops: one Counter
        counts[kind] += n


def _counting(kind: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _add(kind)
        return function(*args, **kwargs)

    return wrapper


def _pipeline_execute(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        _add("redis", len(self.command_stack))
        return function(self, *args, **kwargs)

    return wrapper


def install() -> None:
    """Count Redis commands and provider requests (once per process)."""
    if getattr(redis.Redis.execute_command, "__wrapped__", None):
        return
    redis.Redis.execute_command = _counting("redis", redis.Redis.execute_command)  # type: ignore[method-assign]
    redis.client.Pipeline.execute = _pipeline_execute(redis.client.Pipeline.execute)  # type: ignore[method-assign]
    http.client.HTTPConnection.request = _counting("provider", http.client.HTTPConnection.request)  # type: ignore[method-assign]
    requests.Session.request = _counting("provider", requests.Session.request)  # type: ignore[method-assign]


def _count_query(execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
    _add("queries")
    return execute(sql, params, many, context)


def _wrap_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Count every query of every connection (under ASGI a view's queries run in a thread
    whose connection is not the one the middleware would see)."""
    if _count_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_query)


class CountingMiddleware:
    """Outermost: counts everything the request costs, the session's save included.

    Sync and async capable, so that it adds no thread hop of its own under ASGI: the
    stack below it runs as it would without the bench.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        install()
        connection_created.connect(_wrap_connection, dispatch_uid="bench-counting")
        for existing in connections.all(initialized_only=True):
            _wrap_connection(None, existing)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        counts: Counter[str] = Counter()
        token = _counts.set(counts)
        try:
            response = self.get_response(request)
        finally:
            _counts.reset(token)
        return _stamped(response, counts)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        counts: Counter[str] = Counter()
        token = _counts.set(counts)
        try:
            response = await self.get_response(request)
        finally:
            _counts.reset(token)
        return _stamped(response, counts)


def _stamped(response: HttpResponse, counts: Counter[str]) -> HttpResponse:
    for kind in ("queries", "redis", "provider"):
        response[f"X-Bench-{kind.title()}"] = str(counts[kind])
    return response
