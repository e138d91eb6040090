"""`/healthz` tells a load balancer whether this worker can reach its database and cache."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def test_healthy_worker_answers_200() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                       "LOCATION": "redis://127.0.0.1:1/0"}})
def test_unreachable_cache_answers_503_naming_it() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "failing", "database": "ok", "cache": "failing"}


def test_unreachable_database_answers_503_naming_it() -> None:
    """A worker whose Postgres is gone (nothing listens on port 1) must say so, not crash."""
    script = (
        "import django, json; django.setup();"
        "from django.test import Client; r = Client().get('/healthz');"
        "print(json.dumps([r.status_code, r.json()]))"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="autoshop.settings", DATABASE_URL="postgres://nobody@127.0.0.1:1/none",
               DEBUG="True")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,  # noqa: S603
                            timeout=60, check=False)
    status, body = json.loads(result.stdout.strip().splitlines()[-1])
    assert status == 503
    assert body["database"] == "failing"
    assert body["cache"] == "ok"
