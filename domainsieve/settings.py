"""DomainSieve settings, driven by the environment.

Every knob reads an environment variable with a default that lets a fresh checkout run at once:
SQLite under ``var/`` and Celery on kombu's filesystem transport (no server needed). Production
and the test suite point ``DATABASE_URL`` at PostgreSQL and ``CELERY_BROKER_URL`` at Redis.
Secrets come from ``X`` or from the file named by ``X_FILE``.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

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
ALLOWED_HOSTS = [h for h in envstr("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in envstr("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "domainsieve.apps.DomainSieveAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
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
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "domainsieve.auth.PagesLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
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
# Server-side folders that imports may read from; anything outside them is refused.
IMPORT_ROOTS = [Path(p) for p in envstr("IMPORT_ROOTS", str(VAR_DIR)).split(os.pathsep) if p]
THUMBNAIL_SIZE = envint("THUMBNAIL_SIZE", "256")
IMPORT_WORKERS = envint("IMPORT_WORKERS", str(os.cpu_count() or 1))
# Decompression-bomb guard: images above this many pixels are rejected, not decoded.
MAX_IMAGE_PIXELS = envint("MAX_IMAGE_PIXELS", str(89_478_485))
MEDIA_CACHE_SECONDS = envint("MEDIA_CACHE_SECONDS", "86400")
# Leasing and label submission run as hand-written PostgreSQL statements on PostgreSQL (false: the
# portable ORM statements everywhere; same rules, about twice the cost per call).
LABELING_PG_STATEMENTS = envbool("LABELING_PG_STATEMENTS", "true")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "domainsieve.auth.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["domainsieve.auth.IsAnnotator"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
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
        "JobStatusEnum": "classifier.models.JobStatus",
        "ApplyJobStatusEnum": "classifier.models_apply.ApplyJob.Status",
        "CleanTestsetStatusEnum": "classifier.models_apply.CleanTestset.Status",
        "TrainingRunStatusEnum": "training.models.TrainingRun.Status",
        "VectorIndexSourceEnum": "classifier.models_neighbours.VectorIndex.Source",
        "ApplyJobSourceEnum": "classifier.models_apply.ApplyJob.Source",
    },
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
if envbool("HTTPS", "false"):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
