"""Settings for kling_site: every knob comes from the environment (see .env.example).

With no environment at all the site runs in demo mode: SQLite, the django-q2 ORM broker,
the built-in Kling simulator, the demo checkout and email on the console. Setting
DJANGO_DEBUG=0 switches to production mode, which refuses to start without a real
SECRET_KEY and ALLOWED_HOSTS, or with the simulator as its Kling provider.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from kling_site.env import envbool, envfloat, envint, envlist, envrate, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env", override=False)

DEBUG = envbool("DJANGO_DEBUG", True)
DEMO_MODE = DEBUG

# Production refuses to guess: a missing secret is one clear line, not a stack of defaults.
_DEMO_SECRET = "demo-only-insecure-secret-key-do-not-use-in-production-0123456789"  # noqa: S105
SECRET_KEY = envstr("SECRET_KEY") or (_DEMO_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is not set: production mode (DJANGO_DEBUG=0) needs a secret key")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver" if DEBUG else "")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is not set: production mode (DJANGO_DEBUG=0) needs the site's host names"
    )

SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SITE_NAME = envstr("SITE_NAME", "Kling Studio")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS") or (
    [SITE_URL] if SITE_URL.startswith("https://") else []
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rest_framework_api_key",
    "accounts",
    "billing",
    "generations",
    "generations.simulator",
    "api",
    "outbound_webhooks",
    "economics",
    "batches",
    "subjects",
    # After the project's apps, so generations' `qcluster` command replaces django-q's own
    # (generations/management/commands/qcluster.py).
    "django_q",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: a signed-in person's saved language wins over the browser's.
    "accounts.middleware.ProfileLocaleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so it sees Django's debug 404/500 answers: `make run` shows the site's own pages.
    "kling_site.middleware.SiteErrorPagesMiddleware",
]
# DJANGO_DEBUG_PAGES=1: Django's debug pages for a wrong URL or a crash, while developing.
SHOW_DEBUG_PAGES = envbool("DJANGO_DEBUG_PAGES", False)

ROOT_URLCONF = "kling_site.urls"
WSGI_APPLICATION = "kling_site.wsgi.application"

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
                "kling_site.context_processors.site",
            ],
        },
    }
]

# Databases. SQLite in demo mode: IMMEDIATE transactions take the write lock up front so
# concurrent writers wait (up to the timeout) instead of failing with "database is locked".
DATABASE_URL = envstr("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60, minimum=0))
    }
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": envstr("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # Kept open across requests and tasks as on PostgreSQL: django-q2's ORM broker
            # closes an expired connection before each enqueue, and reopening SQLite (its
            # pragmas, Django's functions) cost each finished callback two reconnects.
            "CONN_MAX_AGE": envint("DB_CONN_MAX_AGE", 60, minimum=0),
            "CONN_HEALTH_CHECKS": True,
            # A file (not in-memory) test database, so threads in concurrency tests share it;
            # SQLITE_TEST_PATH lets two test runs in one checkout keep out of each other's way.
            "TEST": {"NAME": envstr("SQLITE_TEST_PATH", str(BASE_DIR / ".test-db.sqlite3"))},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USING_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

REDIS_URL = envstr("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# django-q2: timeout < retry so a slow task is never handed to a second worker; finite
# attempts with ack_failures so a failing task is not redelivered forever (our tasks
# schedule their own retries); no catch_up so a restart does not replay every missed sweep.
Q_CLUSTER = {
    "name": "kling_site",
    "workers": envint("Q_WORKERS", 2, minimum=1),
    "timeout": 90,
    "retry": 120,
    "max_attempts": 3,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 500,
    "poll": 0.5,
    "label": "Task queue",
}
# Copying results (downloads, thumbnails, posters) can take long on a slow CDN. With
# RESULTS_QUEUE set, those tasks go to a queue of their own, served by a second cluster
# (`Q_CLUSTER_NAME=<that name> manage.py qcluster`, Procfile `results`), so they never
# hold up a status change. Empty (the demo): one cluster does everything.
RESULTS_QUEUE = envstr("RESULTS_QUEUE")
Q_CLUSTER["ALT_CLUSTERS"] = {
    RESULTS_QUEUE or "results": {"workers": envint("Q_RESULTS_WORKERS", 2, minimum=1)}
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# URL names, resolved when used (Django and allauth both accept them).
LOGIN_REDIRECT_URL = "generations:choose"
LOGIN_URL = "account_login"

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = envstr("ACCOUNT_EMAIL_VERIFICATION", "optional" if DEBUG else "mandatory")
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_SESSION_REMEMBER = None  # show the "remember me" box
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm", "add_email": "accounts.forms.AddEmailForm"}
# {} keeps allauth's defaults on; tests/conftest.py switches them off, as demo mode does.
ACCOUNT_RATE_LIMITS = False if DEBUG else {}
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
ALLAUTH_TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0, minimum=0)
# Sign-ups per client address (an IPv6 /64) and per network (an IPv4 /24, an IPv6 /48),
# so nobody farms accounts from one place; over either, the sign-up form says so.
SIGNUP_LIMIT_PER_IP = envrate("SIGNUP_LIMIT_PER_IP", "5/hour")
SIGNUP_LIMIT_PER_NETWORK = envrate("SIGNUP_LIMIT_PER_NETWORK", "20/hour")

EMAIL_BACKEND = envstr(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if envstr("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = envstr("EMAIL_HOST")
EMAIL_PORT = envint("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", True)
# Seconds an SMTP connection may take: sign-up and password pages send mail in the request.
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "Kling Studio <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

LANGUAGE_CODE = "en"
# Chosen from the profile, then the language cookie (the footer switcher), then Accept-Language;
# URLs carry no language prefix.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(envstr("MEDIA_ROOT", str(BASE_DIR / "media")))
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

AWS_STORAGE_BUCKET_NAME = envstr("AWS_STORAGE_BUCKET_NAME")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
if AWS_STORAGE_BUCKET_NAME:
    # Results are private: served through our owner-checked views, never public URLs.
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": envstr("AWS_S3_ENDPOINT_URL") or None,
            "region_name": envstr("AWS_S3_REGION_NAME") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }

REST_FRAMEWORK = {
    # Personal API keys first (Authorization: Bearer ks_live_...); the browser's session,
    # with its CSRF check, for people trying the API from a signed-in page.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.APIKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.LimitedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
}
# Requests per minute for each API key (or signed-in person without one), and of those, how
# many may create generations; 0 switches a limit off. Counted in the default cache (Redis
# in production, so every web process shares the count).
API_RATE_PER_MINUTE = envint("API_RATE_PER_MINUTE", 120, minimum=0)
API_CREATE_RATE_PER_MINUTE = envint("API_CREATE_RATE_PER_MINUTE", 20, minimum=0)
# The largest API request body: two 10 MB pictures as Base64 and the rest of the request.
API_MAX_BODY_BYTES = envint("API_MAX_BODY_BYTES", 28 * 1024 * 1024, minimum=1024)
# How long the signed result links in API answers work.
API_FILE_LINK_SECONDS = envint("API_FILE_LINK_SECONDS", 3600, minimum=60)
# Demo mode only: let webhook URLs point at this machine or its network, to try webhooks
# against a local receiver. Production always refuses private addresses.
OUTBOUND_WEBHOOKS_ALLOW_PRIVATE = envbool("OUTBOUND_WEBHOOKS_ALLOW_PRIVATE", False)
SPECTACULAR_SETTINGS = {
    "TITLE": f"{SITE_NAME} API",
    "DESCRIPTION": "Create Kling images and videos for credits. See the guide at /api/ for a first request.",
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Credits
WELCOME_CREDITS = envint("WELCOME_CREDITS", 50, minimum=0)
# Economics: warn staff when a Kling pack has fewer days left than this at the current burn rate.
ECONOMICS_LOW_PACK_DAYS = envint("ECONOMICS_LOW_PACK_DAYS", 7, minimum=0)
# Units left in a pack under which staff are warned too (0: only when it runs out).
ECONOMICS_LOW_PACK_UNITS = envint("ECONOMICS_LOW_PACK_UNITS", 0, minimum=0)
# Mail providers that deliver name+tag@ to name@: the tag is ignored when telling whether a
# mailbox already had its welcome credits.
EMAIL_PLUS_TAG_DOMAINS = envlist(
    "EMAIL_PLUS_TAG_DOMAINS",
    "gmail.com,googlemail.com,outlook.com,hotmail.com,live.com,icloud.com,me.com,fastmail.com,proton.me,protonmail.com",
)

# Kling provider. "simulator" (the demo default) serves Kling's legacy HTTP contract at
# /_sim/kling/ from this very site, so the official client is the code path under test.
KLING_PROVIDER = envstr("KLING_PROVIDER", "simulator")
if KLING_PROVIDER not in ("simulator", "kling", "gateway"):
    raise ImproperlyConfigured(f"KLING_PROVIDER={KLING_PROVIDER!r}: use simulator, kling or gateway")
# Production never serves the simulator by accident (a deploy that forgot its Kling keys
# would otherwise take payments for fake results); a staging site opts in explicitly.
ALLOW_SIMULATOR_IN_PRODUCTION = envbool("ALLOW_SIMULATOR_IN_PRODUCTION", False)
if not DEBUG and KLING_PROVIDER == "simulator" and not ALLOW_SIMULATOR_IN_PRODUCTION:
    raise ImproperlyConfigured(
        ("KLING_PROVIDER=simulator" if envstr("KLING_PROVIDER") else "KLING_PROVIDER is not set")
        + ": production mode (DJANGO_DEBUG=0) needs kling or gateway"
        " (a staging site may set ALLOW_SIMULATOR_IN_PRODUCTION=1)"
    )
KLING_API_BASE = envstr(
    "KLING_API_BASE",
    f"{SITE_URL}/_sim/kling" if KLING_PROVIDER == "simulator" else "https://api-singapore.klingai.com",
).rstrip("/")
KLING_ACCESS_KEY = envstr("KLING_ACCESS_KEY")
KLING_SECRET_KEY = envstr("KLING_SECRET_KEY")
KLING_API_KEY = envstr("KLING_API_KEY")
if KLING_PROVIDER == "simulator" and not (KLING_API_KEY or KLING_ACCESS_KEY):
    # The simulator checks auth like Kling does; in demo mode both sides share these keys.
    KLING_ACCESS_KEY = "demo-access-key"
    KLING_SECRET_KEY = "demo-secret-key-for-the-built-in-simulator"  # noqa: S105
KLING_WEBHOOK_SECRET = envstr("KLING_WEBHOOK_SECRET")
# Jobs in flight at Kling and requests per minute sent to it (0: no limit of our own).
KLING_MAX_CONCURRENCY = envint("KLING_MAX_CONCURRENCY", 5, minimum=0)
KLING_MAX_QPM = envint("KLING_MAX_QPM", 120, minimum=0)
# Prefix of the limiter's Redis keys, so sites (or test runs) sharing a Redis count apart.
LIMITER_KEY_PREFIX = "kling_site:limiter"
KLING_CONNECT_TIMEOUT = envfloat("KLING_CONNECT_TIMEOUT", 5.0, positive=True)
KLING_READ_TIMEOUT = envfloat("KLING_READ_TIMEOUT", 30.0, positive=True)
_KLING_CDN_HOSTS = "cdn.klingai.com,p1.a.kwimgs.com,p2.a.kwimgs.com,h1.inkwai.com,h2.inkwai.com,p2-kling.klingai.com,s21-kling.klingai.com"
KLING_MEDIA_HOSTS = envlist("KLING_MEDIA_HOSTS", _KLING_CDN_HOSTS)
if KLING_PROVIDER == "simulator":
    from urllib.parse import urlsplit

    KLING_MEDIA_HOSTS.append(urlsplit(SITE_URL).netloc)
GATEWAY_API_BASE = envstr("GATEWAY_API_BASE").rstrip("/")
GATEWAY_API_KEY = envstr("GATEWAY_API_KEY")
if KLING_PROVIDER == "kling" and not (KLING_API_KEY or (KLING_ACCESS_KEY and KLING_SECRET_KEY)):
    raise ImproperlyConfigured(
        "KLING_PROVIDER=kling needs KLING_API_KEY, or KLING_ACCESS_KEY and KLING_SECRET_KEY"
    )
if KLING_PROVIDER == "gateway" and not (GATEWAY_API_BASE and GATEWAY_API_KEY):
    raise ImproperlyConfigured("KLING_PROVIDER=gateway needs GATEWAY_API_BASE and GATEWAY_API_KEY")
GENERATION_DEADLINE_MINUTES = envint("GENERATION_DEADLINE_MINUTES", 60, minimum=1)
# Generations one person may have waiting or in progress at once (0: no cap).
MAX_QUEUED_PER_USER = envint("MAX_QUEUED_PER_USER", 20, minimum=0)
# Models Kling has discontinued (docs/kling.md section 9). They stay in the capability table and
# the price list, hidden from forms and refused on create; set to "" to offer them again.
KLING_DISABLED_MODELS = envlist("KLING_DISABLED_MODELS", "kling-v1")
# Seconds between passes of the poll sweep (the safety net behind callbacks).
GENERATION_POLL_SECONDS = envint("GENERATION_POLL_SECONDS", 12, minimum=0)
# Simulator timings, in seconds (demo: a few seconds; Kling's real averages are minutes).
SIMULATOR_QUEUE_SECONDS = envfloat("SIMULATOR_QUEUE_SECONDS", 2.0, minimum=0)
SIMULATOR_RUN_SECONDS = envfloat("SIMULATOR_RUN_SECONDS", 6.0, minimum=0)
# The web process serving the simulator sends its callbacks from a thread of its own;
# tests switch it off (tests/conftest.py) and deliver callbacks when they choose.
SIMULATOR_CALLBACK_THREAD = True
# API keys the simulator accepts besides KLING_API_KEY, each an account of its own.
SIMULATOR_API_KEYS: list[str] = []
# Where the simulator keeps the result files it renders on first download.
SIMULATOR_CACHE_DIR = Path(tempfile.gettempdir()) / "kling-sim-media"

# Stripe. Without STRIPE_SECRET_KEY the site uses its demo checkout, which signs its
# events with STRIPE_WEBHOOK_SECRET so the production webhook code is what runs.
STRIPE_SECRET_KEY = envstr("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = envstr("STRIPE_WEBHOOK_SECRET") or (
    "whsec_demo_checkout_secret" if DEBUG and not STRIPE_SECRET_KEY else ""
)
STRIPE_API_BASE = envstr("STRIPE_API_BASE")
# Seconds to wait for each Stripe request (one retry follows a connection error or 5xx).
STRIPE_TIMEOUT = envint("STRIPE_TIMEOUT", 10, minimum=1)
# Open Checkout Sessions one person may have at once (each holds a pending purchase; 0: no cap).
MAX_PENDING_CHECKOUTS = envint("MAX_PENDING_CHECKOUTS", 3, minimum=0)
# Threads of one web process that may wait on Stripe or SMTP at once (kling_site.outbound):
# one fewer than gunicorn's, so a slow service never takes a process's last thread.
OUTBOUND_CALLS_PER_PROCESS = envint(
    "OUTBOUND_CALLS_PER_PROCESS", max(1, envint("GUNICORN_THREADS", 4, minimum=1) - 1), minimum=1
)
# Production without a Stripe key sells nothing rather than handing out free demo credits.
STRIPE_DEMO = DEBUG and not STRIPE_SECRET_KEY
if not DEBUG and STRIPE_SECRET_KEY and not STRIPE_WEBHOOK_SECRET:
    raise ImproperlyConfigured("STRIPE_WEBHOOK_SECRET is not set: it is needed with STRIPE_SECRET_KEY")

# Production hardening: `manage.py check --deploy` must report nothing.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SESSION_COOKIE_HTTPONLY = True
    X_FRAME_OPTIONS = "DENY"
    ADMINS = [("Admin", email) for email in envlist("ADMIN_EMAILS")]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django-q": {"level": envstr("Q_LOG_LEVEL", "WARNING")},
    },
}
