"""The demo's settings for the load test (``bench/load.py``): the bench's views and a
middleware that reports what each request costs; with ``BENCH_RP=mozilla``,
mozilla-django-oidc as the relying party instead of django-logto; with ``BENCH_RP=bare``,
no relying party at all: Django's session and authentication middleware and its own
password login (the floor both are measured against)."""

import os

from bench.common import mozilla_settings
from config.settings import *  # noqa: F403

MIDDLEWARE = ["bench.counting.CountingMiddleware", *MIDDLEWARE]  # noqa: F405
ROOT_URLCONF = "bench.urls"
LOGGING = {"version": 1, "disable_existing_loggers": False}
if os.environ.get("BENCH_CACHE_PREFIX") and "default" in CACHES:  # noqa: F405
    # Keys of this run only: other runs may share the Redis database.
    CACHES["default"]["KEY_PREFIX"] = os.environ["BENCH_CACHE_PREFIX"]  # noqa: F405

if os.environ.get("BENCH_RP") == "mozilla":
    globals().update(mozilla_settings(f"{LOGTO['ENDPOINT']}/oidc"))  # noqa: F405
    # Its own stack: without LogtoMiddleware, which would find no Logto session anyway.
    MIDDLEWARE = [name for name in MIDDLEWARE if name != "logto_auth.middleware.LogtoMiddleware"]
    OIDC_STORE_ACCESS_TOKEN = True  # the bench's client reads it to call the API
    SILENCED_SYSTEM_CHECKS = ["logto_auth.E005", "logto_auth.E007"]

if os.environ.get("BENCH_RP") == "bare":
    MIDDLEWARE = [name for name in MIDDLEWARE if name != "logto_auth.middleware.LogtoMiddleware"]
    AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    # Django's login with a cheap hasher: the floor measures the stack, not PBKDF2.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    SILENCED_SYSTEM_CHECKS = ["logto_auth.E005", "logto_auth.E007"]
