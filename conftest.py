"""Fixtures every test can use."""

import socket
from collections.abc import Iterator

import pytest
from django.core.cache import caches


def pytest_configure(config: pytest.Config) -> None:
    """The in-process ASGI app of the tests does not watch its event loop (a served one does: autoshop.metrics)."""
    from autoshop import metrics

    metrics.loop_monitor_enabled = False


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Each test starts and ends with empty caches (local memory or Redis), and with no memory of a
    calendar that did not answer (a process-wide pause for caller-facing requests)."""
    from scheduling import calendars

    calendars._unreachable_until = 0.0
    for alias in ("default", "local"):
        caches[alias].clear()
    yield
    for alias in ("default", "local"):
        caches[alias].clear()
    calendars._unreachable_until = 0.0


@pytest.fixture(scope="session")
def _media_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("media"))


@pytest.fixture(autouse=True)
def _no_recordings(settings, _media_root: str) -> None:
    """Calls are not recorded unless a test turns RECORD_CALLS on; stored files go to a temporary
    MEDIA_ROOT, never the checkout's."""
    settings.RECORD_CALLS = False
    settings.MEDIA_ROOT = _media_root


def closed_port() -> int:
    """A local port nothing listens on (a service that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_down(settings) -> None:
    """The shared cache is a Redis that is not there (with the production timeouts)."""
    settings.CACHES = {**settings.CACHES, "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}}
