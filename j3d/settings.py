"""J3D settings: embedded defaults for a laptop, everything else from the environment.

Configuration is read with django-environ from the process environment and an optional `.env` file
(`make setup` writes one with a random SECRET_KEY on first run; see `.env.example`).
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "j3d",
    "printers",
    "orders",
    "scheduling",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a django-axes lockout on a login page into its 429 page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First, so a locked-out address or account is refused before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "j3d.urls"
WSGI_APPLICATION = "j3d.wsgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the q2 cluster and the printer link share one SQLite file: WAL lets readers
    # run beside the writer, IMMEDIATE transactions take the write lock up front instead of
    # failing half-way with "database is locked", and the timeout waits for a busy writer.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file, not memory, so tests can run real link processes against the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# Sliced print files run to tens of megabytes.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Shop owners log in on /login/ (the admin's login takes staff only) and land on the farm.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "farm"
LOGOUT_REDIRECT_URL = "login"

# Password guessing (django-axes, on every door that checks a password: /login/, the admin's
# login and POST /api/auth/token/): after AXES_FAILURE_LIMIT failures from one client address, or
# for one account, further attempts answer 429 until AXES_COOLOFF_TIME has passed without one.
# A success resets the account's count. Locked-out attempts are listed in the admin.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = env.float("LOGIN_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "j3d.views.locked_out"
# The client address is REMOTE_ADDR unless TRUSTED_PROXY_COUNT proxies in front of J3D append to
# X-Forwarded-For; trusting that header without a proxy would let a client pick its address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT:
    AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]

# Secrets at rest (printer access codes, cloud tokens) are encrypted with this key. Without it
# the key is derived from SECRET_KEY, so rotating SECRET_KEY then needs FIELD_ENCRYPTION_KEY set
# to the old derivation (see j3d/lib/crypto.py).
FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY", default="")

vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="j3d@localhost")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # JWT first so a request without credentials answers 401 with a Bearer challenge.
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only: nested bodies (an order's items) have no form encoding. Views that take a file
    # upload add the multipart parser themselves.
    "DEFAULT_PARSER_CLASSES": ["j3d.lib.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "j3d.lib.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "j3d.lib.api.exception_handler",
    # The integration guide shows money and weights as JSON numbers, not strings.
    "COERCE_DECIMAL_TO_STRING": False,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}

SIMPLE_JWT = {
    # The token view sends user_logged_in, whose receiver updates last_login (see j3d/api.py).
    "UPDATE_LAST_LOGIN": False,
    # Each refresh returns a new refresh token and blacklists the one used, so a stolen refresh
    # token works once at most and its reuse is refused (401).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "J3D API",
    "DESCRIPTION": "Back office for Etsy 3D-print shops running Bambu Lab printer farms.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `status` field; name each choice set instead of a hashed suffix.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.Order.Status",
        "JobStatusEnum": "scheduling.models.ScheduledPrint.Status",
        "EventStatusEnum": "j3d.models.Event.Status",
        "EventTypeEnum": "j3d.serializers.TYPES",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "j3d.lib.openapi.drop_binary_patterns",
    ],
    # Swagger UI served from our own static files: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

Q_CLUSTER = {
    "name": "j3d",
    "workers": env.int("Q_WORKERS", default=2),
    # A task may run `timeout` seconds; it is handed out again only after `retry`, which must
    # be longer, or a slow task would run twice. Uploads to printers take minutes: they run on
    # their own cluster (ALT_CLUSTERS below), never under this timeout.
    "timeout": env.int("Q_TIMEOUT", default=60),
    "retry": env.int("Q_RETRY", default=120),
    "max_attempts": 3,
    "catch_up": False,
    # How often an idle cluster asks the ORM broker for work. q2's default (0.2 s) was most of the
    # delay between a printer's report and its job following (bench/bench_events.py: report ->
    # job status p50 ~300 ms at 0.2 s, ~160 ms at 0.1 s). Each poll is one indexed SELECT: an
    # idle cluster took ~1% of one core at 0.2 s, ~2% at 0.1 s, ~4% at 0.05 s.
    "poll": env.float("Q_POLL", default=0.1),
    "label": "Background tasks",
}
# FTPS uploads to printers (scheduling/services/uploads.py) run at printer speed, 75-150 KB/s:
# a 50 MB file takes 5-10 minutes, far over the default cluster's timeout. They go to a second
# cluster on the same broker, `Q_CLUSTER_NAME=uploads manage.py qcluster` (run_j3d starts it),
# so a long upload never holds a worker that events and dispatch need, and it gets the timeout
# it needs: each task's own, sized to its file (UPLOAD_WORST_CASE_BYTES_PER_SECOND), at most
# UPLOAD_TIMEOUT_MAX_SECONDS, with `retry` above that so q2 never hands a running upload out
# again. q2 does not retry an upload either (max_attempts 1): a worker that died mid-upload is
# found by its stale heartbeat and restarted once by the `uploads-sweep` schedule.
UPLOADS_CLUSTER = "uploads"
UPLOAD_WORST_CASE_BYTES_PER_SECOND = env.int("UPLOAD_WORST_CASE_BYTES_PER_SECOND", default=75_000)
UPLOAD_TIMEOUT_MIN_SECONDS = env.int("UPLOAD_TIMEOUT_MIN_SECONDS", default=120)
UPLOAD_TIMEOUT_MAX_SECONDS = env.int("UPLOAD_TIMEOUT_MAX_SECONDS", default=4 * 3600)
Q_CLUSTER["ALT_CLUSTERS"] = {
    UPLOADS_CLUSTER: {
        "workers": env.int("Q_UPLOAD_WORKERS", default=3),  # uploads at once, one per printer
        "timeout": UPLOAD_TIMEOUT_MAX_SECONDS,
        "retry": UPLOAD_TIMEOUT_MAX_SECONDS + 600,
        "max_attempts": 1,
        # Take a task from the queue only when a worker is nearly free (q2's default holds
        # workers**2 in memory): a task still in the queue is one the uploads sweep can see
        # waiting, and does not queue again (scheduling/services/uploads.py).
        "queue_limit": 1,
        "label": "Uploads to printers",
    }
}
# An upload renews its claim (the heartbeat) with its progress every UPLOAD_PROGRESS_SECONDS;
# a claim not renewed for UPLOAD_CLAIM_SECONDS means its worker died. Restarted once
# (UPLOAD_MAX_ATTEMPTS passes in all), then recorded as failed.
UPLOAD_PROGRESS_SECONDS = env.float("UPLOAD_PROGRESS_SECONDS", default=2.0)
UPLOAD_CLAIM_SECONDS = env.int("UPLOAD_CLAIM_SECONDS", default=90)
UPLOAD_MAX_ATTEMPTS = env.int("UPLOAD_MAX_ATTEMPTS", default=2)
# A queued upload whose task has not started within this long is queued again (its task was
# lost, e.g. the dispatching process died before queueing it); a duplicate task does nothing.
UPLOAD_QUEUED_SECONDS = env.int("UPLOAD_QUEUED_SECONDS", default=600)
if Q_CLUSTER["timeout"] >= Q_CLUSTER["retry"]:
    raise ImproperlyConfigured("Q_TIMEOUT must be below Q_RETRY, or slow tasks would run twice")
if UPLOAD_PROGRESS_SECONDS * 4 > UPLOAD_CLAIM_SECONDS:
    raise ImproperlyConfigured("UPLOAD_CLAIM_SECONDS must be at least 4 x UPLOAD_PROGRESS_SECONDS")
if env("REDIS_URL", default=""):
    Q_CLUSTER["redis"] = env("REDIS_URL")
else:
    Q_CLUSTER["orm"] = "default"

# The event log (see j3d/events.py). A claim outlives the q2 task timeout, so a row is taken
# again only when the worker that held it can no longer be running.
EVENTS_CLAIM_SECONDS = env.int("EVENTS_CLAIM_SECONDS", default=Q_CLUSTER["timeout"] * 2)
EVENTS_BATCH = env.int("EVENTS_BATCH", default=100)
# A failing subscriber is retried after 10 s, 20 s, 40 s, ... at most an hour apart (the sweep
# runs every minute, so short delays round up to it), and given up on after 10 passes (~2 h).
EVENTS_RETRY_SECONDS = env.int("EVENTS_RETRY_SECONDS", default=10)
EVENTS_RETRY_MAX_SECONDS = env.int("EVENTS_RETRY_MAX_SECONDS", default=3600)
EVENTS_MAX_ATTEMPTS = env.int("EVENTS_MAX_ATTEMPTS", default=10)
# Handled events are the printers' history; older ones are deleted by the daily prune.
EVENTS_RETENTION_DAYS = env.int("EVENTS_RETENTION_DAYS", default=90)
# True handles each commit's events inline, in the publishing thread, through q2's sync mode for
# this one task: the test suite runs so (j3d/tests/fixtures.py), deterministic and without a
# cluster. Never in production: it would put the subscribers back into the printer link.
EVENTS_SYNC = env.bool("EVENTS_SYNC", default=False)

# Notifications (see notifications/services/deliveries.py). A failed send is retried after 30 s,
# 1 min, 2 min, ... at most an hour apart, 8 times in all (about 2 h); 4xx other than 408/429 and
# refused targets are not retried.
NOTIFICATIONS_RETRY_SECONDS = env.int("NOTIFICATIONS_RETRY_SECONDS", default=30)
NOTIFICATIONS_RETRY_MAX_SECONDS = env.int("NOTIFICATIONS_RETRY_MAX_SECONDS", default=3600)
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=8)
NOTIFICATIONS_BATCH = env.int("NOTIFICATIONS_BATCH", default=50)
# Deliveries of one batch are sent side by side: a hanging receiver holds one thread, not the rest.
NOTIFICATIONS_SEND_THREADS = env.int("NOTIFICATIONS_SEND_THREADS", default=8)
# Longer than any send (webhooks 5 s, mail 10 s): a claim that runs out means the worker died.
NOTIFICATIONS_CLAIM_SECONDS = env.int("NOTIFICATIONS_CLAIM_SECONDS", default=60)
NOTIFICATIONS_SWEEP_SECONDS = env.int("NOTIFICATIONS_SWEEP_SECONDS", default=30)
NOTIFICATIONS_EMAIL_TIMEOUT_SECONDS = env.int("NOTIFICATIONS_EMAIL_TIMEOUT_SECONDS", default=10)
# Webhook and chat URLs on loopback or the LAN are refused (SSRF) unless this is on: for tests
# and demos whose receivers run on this machine, never for a server on a shop's network.
NOTIFICATIONS_ALLOW_PRIVATE_TARGETS = env.bool("NOTIFICATIONS_ALLOW_PRIVATE_TARGETS", default=False)
# Like EVENTS_SYNC: send in the planning thread (the test suite); never in production.
NOTIFICATIONS_SYNC = env.bool("NOTIFICATIONS_SYNC", default=False)

# The printer link (see printers/link.py).
PRINTER_OFFLINE_AFTER_SECONDS = env.int("PRINTER_OFFLINE_AFTER_SECONDS", default=60)
PRINTER_LEASE_SECONDS = env.int("PRINTER_LEASE_SECONDS", default=30)
# Changes nobody needs at once (temperatures, progress) are written at most this often.
PRINTER_STATUS_WRITE_SECONDS = env.int("PRINTER_STATUS_WRITE_SECONDS", default=5)
PRINTER_MATERIAL_LOW_PCT = env.int("PRINTER_MATERIAL_LOW_PCT", default=10)
PRINTER_COMMAND_TIMEOUT_SECONDS = env.int("PRINTER_COMMAND_TIMEOUT_SECONDS", default=30)

# Etsy (orders/etsy/): the app's keystring and shared secret from etsy.com/developers/your-apps,
# the callback registered there, and where Etsy is (tests and the demo point these at a fake).
ETSY_KEYSTRING = env("ETSY_KEYSTRING", default="")
ETSY_SHARED_SECRET = env("ETSY_SHARED_SECRET", default="")
ETSY_REDIRECT_URI = env("ETSY_REDIRECT_URI", default="http://127.0.0.1:8000/etsy/callback")
ETSY_API_URL = env("ETSY_API_URL", default="https://api.etsy.com")
ETSY_CONNECT_URL = env("ETSY_CONNECT_URL", default="https://www.etsy.com/oauth/connect")
# Each incremental sync re-reads this much before its high-water mark (clock skew, late writes).
ETSY_SYNC_OVERLAP_SECONDS = env.int("ETSY_SYNC_OVERLAP_SECONDS", default=600)
# First wait after a 5xx from Etsy; it doubles per retry (with jitter).
ETSY_RETRY_BACKOFF_SECONDS = env.float("ETSY_RETRY_BACKOFF_SECONDS", default=0.5)

# Production hardening; `manage.py check --deploy` is clean when DEBUG is off.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # httpx logs every request line at INFO: a sync would log a line per page.
    "loggers": {"django": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}
