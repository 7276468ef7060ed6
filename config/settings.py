"""Settings of the demo site, read from the environment (12-factor).

With nothing set, the demo runs on SQLite against the local development provider
(``devprovider/``) and its demo application.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_list(name: str, default: str = "", sep: str | None = None) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(sep) if item.strip()]


DEBUG = os.environ.get("DJANGO_DEBUG", "true").lower() in ("1", "true", "yes", "on")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("Set DJANGO_SECRET_KEY when DJANGO_DEBUG is off.")
    SECRET_KEY = "django-insecure-demo-key-only-for-local-development"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]", sep=",")

INSTALLED_APPS = [
    "logto_auth.apps.LogtoAdminConfig",  # django.contrib.admin, login through Logto
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "logto_auth",
    "config.apps.DemoConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The visitor's language (the language cookie, then Accept-Language) for our pages and,
    # through ui_locales, for Logto's.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "logto_auth.middleware.LogtoMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "logto_auth.backends.LogtoBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # logto_organization, logto_organizations (the organization switcher).
                "logto_auth.context_processors.organization",
            ],
        },
    },
]

# No persistent connections (CONN_MAX_AGE 0, logto_auth.W020): under ASGI each request may
# run in a thread of its own, whose kept connection is never reused nor closed, and
# PostgreSQL soon refuses new clients. On PostgreSQL a pool per process keeps connections
# instead, shared by its threads: size it so that every process's DATABASE_POOL_MAX_SIZE
# adds up to less than PostgreSQL's max_connections (README, "Several instances").
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"), conn_max_age=0
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": int(os.environ.get("DATABASE_POOL_MIN_SIZE", "1")),
            "max_size": int(os.environ.get("DATABASE_POOL_MAX_SIZE", "10")),
            # A request waits this long for a free connection, then fails (a 500).
            "timeout": float(os.environ.get("DATABASE_POOL_TIMEOUT", "20")),
        }
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes may share the file: wait for the write lock instead of failing.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # One pool per process: under ASGI, Django's own would connect at every request.
            "OPTIONS": {"pool_class": "config.redis_pool.SharedConnectionPool"},
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
elif os.environ.get("DJANGO_DATABASE_CACHE", "").lower() in ("1", "true", "yes", "on"):
    # Several instances without Redis: a cache they share (refresh locks, replay lists),
    # in the database (run `manage.py createcachetable`).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "django_cache",
        }
    }
# db, cache, cached_db or signed_cookies; by default db (cache with REDIS_URL).
if os.environ.get("DJANGO_SESSION_ENGINE"):
    SESSION_ENGINE = f"django.contrib.sessions.backends.{os.environ['DJANGO_SESSION_ENGINE']}"

# The dev provider (the default endpoint) has the demo's API resource; a real tenant has it
# only once it is created in the Console, and asking Logto for a resource it lacks fails
# every sign-in (invalid_target). So the demo asks for it only from the dev provider or when
# LOGTO_API_RESOURCE / LOGTO_RESOURCES say so.
DEV_PROVIDER_API = "http://127.0.0.1:8000/api"
LOGTO_API_RESOURCE = os.environ.get(
    "LOGTO_API_RESOURCE", "" if "LOGTO_ENDPOINT" in os.environ else DEV_PROVIDER_API
)
LOGTO = {
    "ENDPOINT": os.environ.get("LOGTO_ENDPOINT", "http://127.0.0.1:3001"),
    "APP_ID": os.environ.get("LOGTO_APP_ID", "django-demo"),
    "APP_SECRET": os.environ.get("LOGTO_APP_SECRET", "django-demo-secret"),
    "SCOPES": env_list(
        "LOGTO_SCOPES",
        "email roles urn:logto:scope:organizations urn:logto:scope:organization_roles "
        "custom_data identities" + (" read:profile" if LOGTO_API_RESOURCE else ""),
    ),
    "RESOURCES": env_list("LOGTO_RESOURCES", LOGTO_API_RESOURCE),
    # Organization permissions the sign-in asks for (organization tokens carry only these).
    "ORGANIZATION_PERMISSIONS": env_list("LOGTO_ORGANIZATION_PERMISSIONS"),
    # The demo's rights: Logto role admin -> staff + superuser, staff -> staff in "Staff"
    # (a group with every view permission, made after migrations by config/apps.py).
    "ROLES": {
        "admin": {"is_staff": True, "is_superuser": True},
        "staff": {"is_staff": True, "groups": ["Staff"]},
    },
    "CONSOLE_URL": os.environ.get("LOGTO_CONSOLE_URL") or None,
    # The demo serves that API too (/api/me/): tokens for it are accepted.
    "API_RESOURCES": [LOGTO_API_RESOURCE] if LOGTO_API_RESOURCE else [],
    "WEBHOOK_SIGNING_KEY": os.environ.get("LOGTO_WEBHOOK_SIGNING_KEY", ""),
    "REVALIDATE_INTERVAL": int(os.environ.get("LOGTO_REVALIDATE_INTERVAL", "0")),
    # A signed-in user's rights follow a change of their Logto roles within this time.
    "SYNC_INTERVAL": float(os.environ.get("LOGTO_SYNC_INTERVAL", "300")),
}

LOGIN_URL = "logto_auth:sign_in"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
# English and every language logto_auth ships a translation for (docs/i18n.md).
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("es", "Español"),
    ("ja", "日本語"),
    ("ko", "한국어"),
    ("pt-br", "Português (Brasil)"),
    ("zh-hans", "简体中文"),
]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"expected_refusals": {"()": "config.logfilters.ExpectedRefusals"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "logto_auth": {"handlers": ["console"], "level": "INFO"},
        # A 403 is a refusal the site meant: one line, no traceback.
        "django.request": {
            "handlers": ["console"],
            "level": "WARNING",
            "filters": ["expected_refusals"],
            "propagate": False,
        },
    },
}
