"""Mintmark settings. Every value comes from the environment; with nothing set, the embedded
default runs on one machine: a SQLite file, a filesystem Celery broker and local files under
MINTMARK_DATA_DIR."""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from kombu import Queue

from mintmark import filesystem_broker
from mintmark.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_paths,
    env_secret,
    env_sizes,
    env_str,
)
from mintmark.logs import structured_logging
from mintmark.paths import REPO_DIR

DATA_DIR = Path(env_str("MINTMARK_DATA_DIR", str(REPO_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _embedded_secret_key() -> str:
    # Generated once per data folder so sessions survive restarts of the embedded default.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_secret("MINTMARK_SECRET_KEY") or _embedded_secret_key()
DEBUG = env_bool("MINTMARK_DEBUG", False)
ALLOWED_HOSTS = env_list("MINTMARK_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("MINTMARK_CSRF_TRUSTED_ORIGINS")

# HTTPS (README "Security"). MINTMARK_HTTPS says the site is reached over https: cookies are
# sent only over TLS, plain http is redirected, and browsers are told (HSTS) to use https only.
# Behind a proxy that terminates TLS, MINTMARK_PROXY_SSL_HEADER names the header in which it
# passes the scheme (X-Forwarded-Proto); the proxy must overwrite what a client sends there.
HTTPS = env_bool("MINTMARK_HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
# Container health probes and the Prometheus scraper ask the web server directly over http.
SECURE_REDIRECT_EXEMPT = [r"^api/health$", r"^metrics$"]
_proxy_ssl_header = env_str("MINTMARK_PROXY_SSL_HEADER")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https") if _proxy_ssl_header else None
)
SECURE_HSTS_SECONDS = env_int("MINTMARK_HSTS_SECONDS", 31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("MINTMARK_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("MINTMARK_HSTS_PRELOAD", False)
# Preloading binds the domain and all its subdomains to https in browsers for months; it is
# the domain owner's decision (hstspreload.org), so off by default and its deploy warning
# silenced while off.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "mintmark",  # operator commands: worker, serve
    "orgs",
    "policies",
    "licensing",
    "audit",
    "portal",
    "generation",
    "moderation",
    "provenance",
    "sso",
    "webhooks",
    "axes",  # login lockout (throttle/lockout.py)
    "throttle",
]

MIDDLEWARE = [
    # Outermost, so that it sees every streamed answer, WhiteNoise's too (mintmark/streaming.py).
    "mintmark.streaming.StreamSyncIteratorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "mintmark.middleware.ApiGuardMiddleware",
    "mintmark.nul_guard.NulRefusalMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Per-address limits on public routes and invalid API tokens (throttle/), then axes, last
    # as it asks, turning a locked login into the lockout page.
    "throttle.middleware.ThrottleMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mintmark.urls"
WSGI_APPLICATION = "mintmark.wsgi.application"
ASGI_APPLICATION = "mintmark.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context.portal",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'mintmark.sqlite3'}"),
        conn_max_age=env_int("MINTMARK_DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue instead of failing
    # with "database is locked" when a read-then-write transaction (an audit append) upgrades.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not the in-memory default, so that worker processes started by the tests share
    # the test database; named per test run so that two runs on one machine do not collide.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-mintmark-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Passwords (refused for the members of an org that signs in only through its provider), then
# OpenID Connect logins begun at /sso/login/ (README "Single sign-on").
# The lockout backend comes first so that a locked username and address is refused before any
# password is checked.
AUTHENTICATION_BACKENDS = [
    "throttle.lockout.LockoutBackend",
    "sso.password.PasswordBackend",
    "sso.oidc.SsoBackend",
]
SSO_ALLOW_HTTP_ISSUER = env_bool("MINTMARK_SSO_ALLOW_HTTP", False)
SSO_HTTP_TIMEOUT_S = env_int("MINTMARK_SSO_HTTP_TIMEOUT_S", 10, minimum=1)
SSO_DISCOVERY_CACHE_S = env_int("MINTMARK_SSO_DISCOVERY_CACHE_S", 300)
SSO_SECRETS_DIR = env_str("MINTMARK_SSO_SECRETS_DIR")
SSO_ALLOW_PRIVATE = env_bool("MINTMARK_SSO_ALLOW_PRIVATE", False)
SSO_SESSION_MAX_AGE_S = env_int("MINTMARK_SSO_SESSION_MAX_AGE_S", 8 * 3600, minimum=60)
# Login lockout (django-axes; README "Security", "Abuse limits"): after FAILURE_LIMIT wrong
# passwords for one username from one address, that pair is refused for LOCKOUT_S (each further
# attempt restarts it); a right password clears the count. Attempts are rows in the database
# (the admin site lists them; deleting one, or `manage.py axes_reset_username`, unlocks).
AXES_FAILURE_LIMIT = env_int("MINTMARK_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(seconds=env_int("MINTMARK_LOGIN_LOCKOUT_S", 900, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Logins and logouts are not what axes is here for, and that table would grow without end.
AXES_DISABLE_ACCESS_LOG = True
# Without this every process, each worker and command included, logs a banner at start.
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "throttle.client.client_ip"
AXES_WHITELIST_CALLABLE = "throttle.lockout.sso_login"
AXES_LOCKOUT_CALLABLE = "throttle.lockout.lockout_response"
# Request limits per client address (throttle/limits.py): a rate such as 20/m or 30/5m, or
# off. X-Forwarded-For is believed only from TRUSTED_PROXIES (addresses or networks).
RATE_VERIFY = env_str("MINTMARK_RATE_VERIFY", "20/m")
RATE_LOGIN = env_str("MINTMARK_RATE_LOGIN", "30/m")
RATE_PUBLIC = env_str("MINTMARK_RATE_PUBLIC", "60/m")
RATE_BAD_TOKEN = env_str("MINTMARK_RATE_BAD_TOKEN", "30/5m")
# A count that vanished from the cache between django-ratelimit's add and its incr (the cache
# flushed or evicting) is no evidence of too many requests: serve the request rather than a
# 429 with no wait to name. An unreachable cache still raises.
RATELIMIT_FAIL_OPEN = True
TRUSTED_PROXIES = env_list("MINTMARK_TRUSTED_PROXIES")
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
CSRF_FAILURE_VIEW = "portal.views.csrf_failure"
LOGOUT_REDIRECT_URL = "portal:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Serve app static files (the API docs' assets) straight from the apps too, so the embedded
# default works before collectstatic has run.
WHITENOISE_USE_FINDERS = True

# Request bodies: JSON and form fields up to 2 MiB, uploads (dataset items, edit inputs) up to
# MINTMARK_MAX_UPLOAD_MB; larger bodies are refused with 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MINTMARK_MAX_BODY_BYTES", 2 * 1024 * 1024, minimum=1024)
MAX_UPLOAD_BYTES = env_int("MINTMARK_MAX_UPLOAD_MB", 20, minimum=1) * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = MAX_UPLOAD_BYTES

# Storage: quarantine (never served) and release are separate stores, so a bug in serving code
# cannot reach a file that has not passed the gates.
STORAGE_BACKEND = env_str("MINTMARK_STORAGE", "local")
if STORAGE_BACKEND == "local":
    _file_store = "mintmark.storage.PrivateFileSystemStorage"

    def _local_store(name: str) -> dict:
        return {"BACKEND": _file_store, "OPTIONS": {"location": str(DATA_DIR / "files" / name)}}

    _stores = {
        name: _local_store(name) for name in ("default", "quarantine", "release", "datasets")
    }
elif STORAGE_BACKEND == "s3":

    def _s3_store(name: str) -> dict:
        return {
            # Private buckets only: the quarantine store has no URLs at all, and released
            # files are streamed by Django after its access checks (mintmark/storage.py).
            "BACKEND": "mintmark.storage.PrivateS3Storage",
            "OPTIONS": {
                "bucket_name": env_str(f"MINTMARK_S3_BUCKET_{name.upper()}", f"mintmark-{name}"),
                "endpoint_url": env_str("MINTMARK_S3_ENDPOINT_URL") or None,
                "access_key": env_secret("MINTMARK_S3_ACCESS_KEY"),
                "secret_key": env_secret("MINTMARK_S3_SECRET_KEY"),
                "region_name": env_str("MINTMARK_S3_REGION") or None,
                "default_acl": None,
                "querystring_auth": True,
                "file_overwrite": True,
            },
        }

    _stores = {name: _s3_store(name) for name in ("default", "quarantine", "release", "datasets")}
else:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"MINTMARK_STORAGE={STORAGE_BACKEND!r}: use 'local' or 's3'")

STORAGES = {
    **_stores,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Prometheus metrics (mintmark/metrics.py; README "Metrics"). GET /metrics answers only a
# request bearing MINTMARK_METRICS_TOKEN, and is off (404) while no token is set. Counters and
# histograms recorded in web and worker processes are kept in MINTMARK_METRICS_DIR
# (prometheus-client's multiprocess files), which every process of the installation shares.
METRICS_TOKEN = env_secret("MINTMARK_METRICS_TOKEN")
METRICS_DIR = (
    Path(env_str("MINTMARK_METRICS_DIR", str(DATA_DIR / "metrics"))).resolve()
    if METRICS_TOKEN
    else None
)

# The prompt classifier's exemplar embeddings and fitted heads (moderation/prompt_classifier.py):
# minutes to compute on a fresh installation, seconds to load from here afterwards.
PROMPT_CACHE_DIR = Path(env_str("MINTMARK_PROMPT_CACHE_DIR", str(DATA_DIR / "cache"))).resolve()

# Celery. Job state lives in the database, so there is no result backend.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://localhost//")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's own filesystem transport lets a worker read a message file half written.
    CELERY_BROKER_TRANSPORT = filesystem_broker.TRANSPORT
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker.transport_options(DATA_DIR / "broker")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_QUEUES = (Queue("gpu"), Queue("gates"))
CELERY_TASK_DEFAULT_QUEUE = "gates"
CELERY_TASK_ROUTES = {
    # Exact names win over the patterns below: the sweep is bookkeeping, not GPU work.
    "generation.sweep_stale": {"queue": "gates"},
    "generation.verify_model": {"queue": "gates"},
    "generation.*": {"queue": "gpu"},
    "moderation.*": {"queue": "gates"},
    "provenance.*": {"queue": "gates"},
    "webhooks.*": {"queue": "gates"},
    "mintmark.*": {"queue": "gates"},
}
# A task is acknowledged only after it finished, and a task whose worker died is requeued:
# tasks are idempotent (DESIGN.md), so redelivery is safe and loss is not.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Prefork, with the fix for a pool process killed while idle (mintmark/worker_pool.py says why).
CELERY_WORKER_POOL = "mintmark.worker_pool:TaskPool"
CELERY_TASK_ALWAYS_EAGER = env_bool("MINTMARK_CELERY_EAGER", False)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Run by the one worker started with `--beat` (manage.py worker --beat; serve does it).
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-jobs": {"task": "generation.sweep_stale", "schedule": 60.0},
    "webhook-deliveries-due": {"task": "webhooks.deliveries_due", "schedule": 60.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# A RUNNING job whose worker has not written a heartbeat for this long is queued again.
STALE_JOB_MINUTES = env_int("MINTMARK_STALE_JOB_MINUTES", 10, minimum=1)

# The cache every web process shares. It holds the event-stream leases (generation/events.py),
# so a per-process cache would let each process grant the whole per-user cap. Redis when there
# is one (MINTMARK_CACHE_URL, by default the broker's when that is Redis), else a table in the
# database, which `migrate` creates.
CACHE_URL = env_str("MINTMARK_CACHE_URL") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "mintmark",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "mintmark_cache",
            # Culling would drop live leases: expired entries go when they are read or replaced.
            "OPTIONS": {"MAX_ENTRIES": 10_000_000},
        }
    }

# Event streams (GET /api/generations/{id}/events, served async: README "Security"): at most
# this many open at once per user across every web process, a comment line every KEEPALIVE
# seconds so that proxies and clients see the connection live, and an end after MAX seconds
# (the client reconnects). Streams look at their jobs every POLL seconds, one query per process.
EVENT_STREAMS_PER_USER = env_int("MINTMARK_EVENT_STREAMS_PER_USER", 4, minimum=1)
EVENT_STREAM_KEEPALIVE_S = env_int("MINTMARK_EVENT_STREAM_KEEPALIVE_S", 15, minimum=1)
EVENT_STREAM_MAX_S = env_int("MINTMARK_EVENT_STREAM_MAX_S", 300, minimum=1)
EVENT_STREAM_POLL_S = env_int("MINTMARK_EVENT_STREAM_POLL_MS", 1000, minimum=20) / 1000
# News of job changes through the cache's Redis (generation/job_news.py): streams hear a change
# when it commits instead of at their next poll. Off where that Redis refuses PUBLISH/SUBSCRIBE.
JOB_NEWS = env_bool("MINTMARK_JOB_NEWS", True)

# GPU workers: how many images one pipeline call may hold, how long a run waits for compatible
# jobs to join it, and how much memory resident models may take before the least recently used
# one is unloaded.
GPU_MAX_BATCH_IMAGES = env_int("MINTMARK_GPU_MAX_BATCH", 8, minimum=1)
GPU_BATCH_WINDOW_MS = env_int("MINTMARK_GPU_BATCH_WINDOW_MS", 25)
MODEL_CACHE_BYTES = env_int("MINTMARK_MODEL_CACHE_MB", 8192, minimum=1) * 1024 * 1024
# How a GPU worker serves (generation/serving.py; README "GPU serving"). Memory format and
# compilation apply on CUDA only; the buckets and the compile cache only with compilation on.
GPU_DTYPE = env_choice("MINTMARK_GPU_DTYPE", "float16", ("float16", "bfloat16"))
GPU_SDPA = env_bool("MINTMARK_GPU_SDPA", True)
GPU_CHANNELS_LAST = env_bool("MINTMARK_GPU_CHANNELS_LAST", True)
GPU_FUSE_QKV = env_bool("MINTMARK_GPU_FUSE_QKV", True)
GPU_COMPILE = env_choice("MINTMARK_GPU_COMPILE", "unet+vae", ("off", "unet", "unet+vae"))
GPU_COMPILE_MODE = env_choice(
    "MINTMARK_GPU_COMPILE_MODE",
    "reduce-overhead",
    ("default", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune"),
)
GPU_COMPILE_CACHE_DIR = Path(
    env_str("MINTMARK_GPU_COMPILE_CACHE_DIR", str(DATA_DIR / "compile-cache"))
).resolve()
GPU_BATCH_BUCKETS = env_sizes("MINTMARK_GPU_BATCH_BUCKETS", "1,2,4,8")
GPU_TEXT_CACHE_ENTRIES = env_int("MINTMARK_GPU_TEXT_CACHE", 1024)
GPU_DEVICE_POSTPROCESS = env_bool("MINTMARK_GPU_DEVICE_POSTPROCESS", True)
GPU_STORE_BEHIND = env_bool("MINTMARK_GPU_STORE_BEHIND", True)
# Progress rows are written at most this often per batch.
PROGRESS_MIN_INTERVAL_S = 0.25

# Model folders (README "Security"): models are registered only from folders under these roots
# (symlinks resolved); <root>/<org-slug>/ is that org's alone, a folder elsewhere under a root
# belongs to the first org that registers it, and any org may register what is under a shared
# root. A folder whose weight files hold more than MODEL_MAX_BYTES fails verification.
MODEL_ROOTS = env_paths("MINTMARK_MODEL_ROOTS", (REPO_DIR / "models", DATA_DIR / "models"))
SHARED_MODEL_ROOTS = env_paths("MINTMARK_SHARED_MODEL_ROOTS", ())
MODEL_MAX_BYTES = env_int("MINTMARK_MODEL_MAX_BYTES", 64 * 1024**3, minimum=1)

# Release gates (CPU workers, queue "gates"). A gate that gives no answer within the timeout
# counts as failed; a job whose gates or stamping keep failing is retried with exponential
# backoff (base seconds, doubled per attempt) and ends FAILED after the last retry, its assets
# still quarantined.
GATE_TIMEOUT_S = env_int("MINTMARK_GATE_TIMEOUT_S", 60, minimum=1)
GATE_RETRIES = env_int("MINTMARK_GATE_RETRIES", 4)
GATE_RETRY_BASE_S = env_int("MINTMARK_GATE_RETRY_BASE_S", 10)
# A local folder with CLIP weights (transformers format) for the `clip_concepts` classifier.
CLIP_MODEL_DIR = env_str("MINTMARK_CLIP_MODEL_DIR") or None

# Provenance. Org signing keys live encrypted under DATA_DIR/keys (manage.py provenance_init);
# the passphrase that encrypts them comes from MINTMARK_SIGNING_KEY_PASSPHRASE(_FILE), else it
# is derived from SECRET_KEY. MINTMARK_SIGNER names a factory `module:function(org)` returning a
# signer when keys live in a KMS/HSM instead.
SIGNING_KEY_PASSPHRASE = env_secret("MINTMARK_SIGNING_KEY_PASSPHRASE")
SIGNER_FACTORY = env_str("MINTMARK_SIGNER") or None
# Largest image /api/verify decodes (pixels); larger uploads are refused before decoding.
VERIFY_MAX_PIXELS = env_int("MINTMARK_VERIFY_MAX_PIXELS", 16_000_000, minimum=1)

# Webhooks (webhooks/; README "Webhooks"). Deliveries run on the gates queue: each is one short
# HTTP request under a timeout. A failed attempt is retried after BASE seconds, doubled each
# time up to MAX, until RETRY_FOR seconds after the event. After a secret rotation the previous
# secret signs alongside for ROTATION_OVERLAP seconds. Callbacks to private, loopback,
# link-local, multicast and reserved addresses are refused unless ALLOW_PRIVATE (tests, or an
# installation whose receivers are on its own network). The org secrets are encrypted under
# MINTMARK_WEBHOOK_KEY(_FILE), else under a key derived from SECRET_KEY.
WEBHOOK_KEY = env_secret("MINTMARK_WEBHOOK_KEY")
WEBHOOK_ALLOW_PRIVATE = env_bool("MINTMARK_WEBHOOK_ALLOW_PRIVATE", False)
WEBHOOK_TIMEOUT_S = env_int("MINTMARK_WEBHOOK_TIMEOUT_S", 10, minimum=1)
WEBHOOK_RETRY_BASE_S = env_int("MINTMARK_WEBHOOK_RETRY_BASE_S", 30, minimum=1)
WEBHOOK_RETRY_MAX_S = env_int("MINTMARK_WEBHOOK_RETRY_MAX_S", 3600, minimum=1)
WEBHOOK_RETRY_FOR_S = env_int("MINTMARK_WEBHOOK_RETRY_FOR_S", 86_400, minimum=1)
WEBHOOK_ROTATION_OVERLAP_S = env_int("MINTMARK_WEBHOOK_ROTATION_OVERLAP_S", 86_400)

# Platform rules.
API_TOKEN_TOUCH_SECONDS = 60
# Counts a member's images this month for /api/me (orgs/usage.py says why it is named here).
QUOTA_USAGE = "generation.quota.membership_quota"

LOGGING = structured_logging(
    json=env_str("MINTMARK_LOG_FORMAT", "console") == "json",
    level=env_str("MINTMARK_LOG_LEVEL", "INFO"),
)
# axes says at INFO what every login and logout did; its failures and lockouts are warnings.
LOGGING["loggers"]["axes"] = {"level": "WARNING"}
