"""DomainSieve settings, driven by the environment.

Every knob reads an environment variable with a default that lets a fresh checkout run at once:
SQLite under ``var/`` and Celery on kombu's filesystem transport (no server needed). Production
and the test suite point ``DATABASE_URL`` at PostgreSQL and ``CELERY_BROKER_URL`` at Redis.
Secrets come from ``X`` or from the file named by ``X_FILE``.
"""
from __future__ import annotations

import os
import re
import secrets
import socket
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    return os.environ.get(name, default).strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: str) -> int:
    return int(os.environ.get(name, default))


def envstr(name: str, default: str) -> str:
    return os.environ.get(name, default)


def envsecret(name: str) -> str | None:
    """``NAME`` or the contents of the file named by ``NAME_FILE`` (docker secrets style)."""
    if value := os.environ.get(name):
        return value
    if path := os.environ.get(f"{name}_FILE"):
        return Path(path).read_text().strip()
    return None


VAR_DIR = Path(envstr("DOMAINSIEVE_VAR", str(BASE_DIR / "var")))
DEBUG = envbool("DEBUG", "false")


def _local_secret_key() -> str:
    # A checkout without DJANGO_SECRET_KEY gets a random key kept under var/, never in git.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = envsecret("DJANGO_SECRET_KEY") or _local_secret_key()
# The value .env.example ships: a copy left unedited must not sign production sessions.
PLACEHOLDER_SECRET_KEYS = frozenset({"change-me-to-a-long-random-string"})
if not DEBUG and SECRET_KEY in PLACEHOLDER_SECRET_KEYS:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is still the .env.example placeholder; set a long random value (e.g. "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`) or DJANGO_SECRET_KEY_FILE, "
        "or unset it to use the per-checkout key under var/")
ALLOWED_HOSTS = [h for h in envstr("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in envstr("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "domainsieve.apps.DomainSieveAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "axes",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "domainsieve.apps.DomainSieveConfig",
    "labeling",
    "classifier",
    "training",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "domainsieve.ids.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "domainsieve.auth.PagesLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last: turns a login refused by django-axes into the 429 lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "domainsieve.urls"
WSGI_APPLICATION = "domainsieve.wsgi.application"
ASGI_APPLICATION = "domainsieve.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "domainsieve.auth.role_context",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=envint("DB_CONN_MAX_AGE", "60"),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The embedded demo shares one SQLite file between the web process and the worker.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's standard validators, applied wherever a user sets a password (set-password links, the
# change-password page, admin forms, createsuperuser/changepassword); accounts made by code with
# random passwords (demo, create_users, test fixtures) do not go through them.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes watches every authenticate() call (login page, admin login, POST /api/v1/auth/token/)
# and refuses further attempts once an account or a client address has LOGIN_FAILURE_LIMIT
# failures within the cool-off window. Attempts live in the database, shared by every web process.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", "10")
AXES_COOLOFF_TIME = timedelta(minutes=envint("LOGIN_COOLOFF_MINUTES", "15"))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]  # either one reaching the limit locks
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "domainsieve.throttle.client_ip"
AXES_LOCKOUT_CALLABLE = "domainsieve.throttle.lockout_response"
AXES_VERBOSE = False
# X-Forwarded-For is believed only behind this many reverse proxies (each appends one address);
# 0 means clients connect directly and REMOTE_ADDR is the client.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", "0")
# API tokens older than this many days are refused (0: tokens do not expire).
TOKEN_TTL_DAYS = envint("TOKEN_TTL_DAYS", "0")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise wants it to exist
STATICFILES_DIRS = [BASE_DIR / "frontend" / "static"]
WHITENOISE_USE_FINDERS = True

MEDIA_ROOT = Path(envstr("MEDIA_ROOT", str(VAR_DIR / "media")))
ARTIFACTS_ROOT = Path(envstr("ARTIFACTS_ROOT", str(VAR_DIR / "artifacts")))
# Training run logs and checkpoints; unset means ARTIFACTS_ROOT/training.
TRAINING_LOGS_DIR = Path(_logs) if (_logs := os.environ.get("TRAINING_LOGS_DIR")) else None
# GPU hosts of the local training backend (docs/operations.md, "Adding a GPU host"). Each `train`
# worker registers its host under TRAIN_HOST_NAME and consumes `train.<name>` besides `train`.
# TRAIN_HOST_GPUS declares the GPU count (else nvidia-smi is asked; none found means 0).
TRAIN_HOST_NAME = envstr("TRAIN_HOST_NAME", "") or re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname())[:100]
if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", TRAIN_HOST_NAME):
    raise ImproperlyConfigured("TRAIN_HOST_NAME: letters, digits, '_', '.', '-' (1-100, not starting with a symbol)")
TRAIN_HOST_GPUS = envstr("TRAIN_HOST_GPUS", "")
TRAIN_HOST_GPU_MODEL = envstr("TRAIN_HOST_GPU_MODEL", "")
TRAIN_HOST_GPU_MEMORY_MB = envint("TRAIN_HOST_GPU_MEMORY_MB", "0")
TRAIN_HEARTBEAT_SECONDS = float(envstr("TRAIN_HEARTBEAT_SECONDS", "15"))
# A host silent this long is lost: its running runs are marked lost, its GPUs held back until it returns.
TRAIN_HOST_LOST_SECONDS = float(envstr("TRAIN_HOST_LOST_SECONDS", "120"))
# Tests only: a script run (with this interpreter) instead of a local run's torchrun command.
TRAIN_LOCAL_STANDIN = envstr("TRAIN_LOCAL_STANDIN", "")
# Server-side folders that imports may read from; anything outside them is refused.
IMPORT_ROOTS = [Path(p) for p in envstr("IMPORT_ROOTS", str(VAR_DIR)).split(os.pathsep) if p]
# Server folders jobs may read (training shards, checkpoints, extractor weights), symlinks followed;
# empty: ARTIFACTS_ROOT, MEDIA_ROOT and IMPORT_ROOTS (domainsieve.dataroots).
DATA_ROOTS = [Path(p) for p in envstr("DATA_ROOTS", "").split(os.pathsep) if p]
THUMBNAIL_SIZE = envint("THUMBNAIL_SIZE", "256")
IMPORT_WORKERS = envint("IMPORT_WORKERS", str(os.cpu_count() or 1))
# Decompression-bomb guard: images above this many pixels are rejected, not decoded.
MAX_IMAGE_PIXELS = envint("MAX_IMAGE_PIXELS", str(89_478_485))
# An image file, tar member or sidecar above this many bytes is rejected before it is read into memory.
IMPORT_MAX_BYTES = envint("IMPORT_MAX_BYTES", str(64 * 1024 * 1024))
MEDIA_CACHE_SECONDS = envint("MEDIA_CACHE_SECONDS", "86400")
# API JSON bodies above this size are refused with 413 (form data: DATA_UPLOAD_MAX_MEMORY_SIZE).
MAX_JSON_BODY_BYTES = envint("MAX_JSON_BODY_BYTES", str(20 * 1024 * 1024))
# Leasing and label submission run as hand-written PostgreSQL statements on PostgreSQL (false: the
# portable ORM statements everywhere; same rules, about twice the cost per call).
LABELING_PG_STATEMENTS = envbool("LABELING_PG_STATEMENTS", "true")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "domainsieve.auth.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["domainsieve.auth.IsAnnotator"],
    "EXCEPTION_HANDLER": "domainsieve.api_errors.api_exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "domainsieve.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DomainSieve API",
    "DESCRIPTION": "Sort web-scale image data by visual domain, with people in the loop.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["domainsieve.auth.IsAnnotator"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "DomainEnum": "labeling.domains.DOMAIN_CHOICES",
        "CampaignStatusEnum": "labeling.models.campaigns.Campaign.Status",
        "JobStatusEnum": "domainsieve.jobs.JobStatus",  # every job model: one vocabulary
        "VectorIndexSourceEnum": "classifier.models.neighbours.VectorIndex.Source",
        "ApplyJobSourceEnum": "classifier.models.apply.ApplyJob.Source",
    },
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "domainsieve.schema_hooks.researcher_only_fields_optional"],
}

# Celery. The filesystem transport lets the demo run one worker with no broker server.
CELERY_BROKER_URL = envstr("CELERY_BROKER_URL", "filesystem://localhost//")
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = (
    {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", "3600")}
)
if CELERY_BROKER_URL.startswith("filesystem"):
    for _folder in ("queue", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
# Classifier fits: a fit heartbeats every CLASSIFIER_HEARTBEAT_SECONDS; one silent for
# CLASSIFIER_STALE_SECONDS lost its worker and is fitted again, at most CLASSIFIER_MAX_ATTEMPTS
# times in all, then failed (classifier.services.claims).
CLASSIFIER_HEARTBEAT_SECONDS = float(envstr("CLASSIFIER_HEARTBEAT_SECONDS", "30"))
CLASSIFIER_STALE_SECONDS = float(envstr("CLASSIFIER_STALE_SECONDS", "300"))
CLASSIFIER_MAX_ATTEMPTS = envint("CLASSIFIER_MAX_ATTEMPTS", "2")
# Apply jobs (classifier.services.apply): a shard whose worker is silent for APPLY_STALE_SECONDS is
# claimed again, at most APPLY_MAX_ATTEMPTS times in all; a worker decodes JPEGs in
# APPLY_DECODE_THREADS threads and keeps the APPLY_MODEL_CACHE_SIZE most recently used head pairs
# and extractors loaded (each may hold GPU memory; older ones are dropped).
APPLY_STALE_SECONDS = float(envstr("APPLY_STALE_SECONDS", "300"))
APPLY_MAX_ATTEMPTS = envint("APPLY_MAX_ATTEMPTS", "3")
APPLY_DECODE_THREADS = envint("APPLY_DECODE_THREADS", str(min(8, os.cpu_count() or 1)))
APPLY_MODEL_CACHE_SIZE = envint("APPLY_MODEL_CACHE_SIZE", "2")
# DataLoader worker processes of embedding and fit tasks (0: load in the task's own process).
EMBED_WORKERS = envint("EMBED_WORKERS", "0")
# FAISS threads of neighbour tasks (0 or empty: FAISS's default, every core).
NEIGHBOURS_THREADS = int(envstr("NEIGHBOURS_THREADS", "0") or 0)
# Tests and benchmarks only: every apply batch sleeps this many seconds (a test kills a worker
# mid-shard), and a classifier fit waits at each step while the file CLASSIFIER_HOLD_FILE exists.
APPLY_BATCH_DELAY = float(envstr("DOMAINSIEVE_APPLY_BATCH_DELAY", "0") or 0)
CLASSIFIER_HOLD_FILE = envstr("DOMAINSIEVE_CLASSIFIER_HOLD_FILE", "")
# The devices this process may use, as CUDA reads them: None when unset (every device), "" or "-1"
# for none. A train worker hands out only these; the Training form offers CPU values without them.
CUDA_VISIBLE_DEVICES = os.environ.get("CUDA_VISIBLE_DEVICES")
# `manage.py demo`: the password of the demo accounts made on the first run (unset: random ones).
DEMO_PASSWORD = envsecret("DEMO_PASSWORD")
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "classifier.tasks.*": {"queue": "gpu"},
    "training.tasks.*": {"queue": "train"},
    "labeling.tasks.*": {"queue": "default"},
}
# Short periodic tasks (run by `celery beat`, or `worker -B` in the demo).
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Re-enqueue apply shards whose worker stopped heartbeating (a killed GPU worker).
    "apply-reap-stale": {"task": "classifier.tasks.apply_reap_stale", "schedule": 60.0},
    # Re-queue (or fail, with the reason) classifier fits whose worker stopped heartbeating.
    "classifier-reap-stale-runs": {"task": "classifier.tasks.classifier_runs_reap_stale", "schedule": 60.0},
    # Read training logs for epoch/step/loss and detect exits of torchrun / Slurm jobs.
    "training-poll-runs": {"task": "training.tasks.poll_training_runs", "schedule": 15.0},
    # Keeps the lease table small; leasing itself ignores expired leases.
    "purge-expired-leases": {"task": "labeling.tasks.campaigns.purge_expired_leases", "schedule": 900.0},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {"django.server": {"level": "WARNING"}},
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the ES modules read it to send X-CSRFToken
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy on every response (django-csp). No inline script anywhere: pages pass data
# with json_script and load code from static ES modules, so injected markup cannot run. Style
# attributes stay allowed (label colours); <style> elements need 'self' files. The API docs page
# widens style-src for Swagger UI's own inline styles (domainsieve.urls).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Behind TLS (a proxy that sets X-Forwarded-Proto): HSTS, redirect to https, cookies only over
# https. `manage.py check --deploy` passes with the production settings of docs/operations.md.
HTTPS = envbool("HTTPS", "false")
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    # Trusted only because HTTPS=true promises a TLS proxy in front that overwrites this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Container health probes speak plain HTTP to the web process directly.
    SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/$"]
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", str(365 * 24 * 3600))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "true")
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "true")
