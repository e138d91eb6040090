"""`/healthz`: a load balancer's view of whether this worker can serve calls."""

import logging
import uuid

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse

logger = logging.getLogger(__name__)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "ok", timeout=5)
    if cache.get(key) != "ok":
        raise RuntimeError("cache did not return the value just written")
    cache.delete(key)


def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the database and the cache both work, else 503 naming what failed."""
    checks = {"database": _check_database, "cache": _check_cache}
    status: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
            status[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
            logger.warning("health check %s failed: %s", name, type(exc).__name__)
            status[name] = "failing"
    healthy = all(value == "ok" for value in status.values())
    return JsonResponse({"status": "ok" if healthy else "failing", **status}, status=200 if healthy else 503)
