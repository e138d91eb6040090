"""`manage.py` in a fresh process with a chosen environment: settings are read once, at start-up, so
what production does with an environment variable can only be seen this way."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A production environment that starts and passes `check --deploy --fail-level WARNING`.
PRODUCTION_ENV = {
    "DEBUG": "False",
    "SECRET_KEY": "x7#pq!v2m9zK4rT8wL1nB6yH3jD5fG0sA-c_eUoIiQxRkZtVbNhMlCjWgEyPdFa",
    "ALLOWED_HOSTS": "shop.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://shop.example.com",
    "PUBLIC_BASE_URL": "https://shop.example.com",
    "TWILIO_AUTH_TOKEN": "test-auth-token",
}
# Variables the tests below set one way or the other; the caller's own values never leak in.
CONTROLLED = {*PRODUCTION_ENV, "REMINDER_SAFE_MODE", "SECURE_PROXY_SSL_HEADER", "METRICS_TOKEN", "METRICS_ALLOWED_IPS",
              "PROMETHEUS_MULTIPROC_DIR"}


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`python manage.py *args` with `env` on top of a cleaned copy of this process's environment."""
    clean = {k: v for k, v in os.environ.items() if k not in CONTROLLED and not k.startswith("DJANGO_")}
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True,
        timeout=60, check=False,
    )
