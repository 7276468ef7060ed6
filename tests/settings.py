"""Test settings: the demo's, with fast hashing and a fresh in-memory cache."""

import os

from config.settings import *  # noqa: F403

if "DATABASE_URL" not in os.environ:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_ENGINE = "django.contrib.sessions.backends.db"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The demo's Logto settings; conftest.py points ENDPOINT at the dev provider it starts.
LOGTO = {**LOGTO, "ENDPOINT": "http://127.0.0.1:9"}  # noqa: F405
LOGGING = {"version": 1, "disable_existing_loggers": False}
