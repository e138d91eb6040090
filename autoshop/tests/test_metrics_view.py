"""`/metrics` is the scraper's only: the bearer token, or no credentials from an allowed address (read as the
login throttle reads it, so X-Forwarded-For counts only behind configured proxies); everyone else gets 403."""

import os
import subprocess
import sys

import pytest
from django.test import Client

from autoshop.tests.subprocesses import PRODUCTION_ENV, ROOT, run_manage

TOKEN = "m" * 20 + "-scrape-token-0123456789"
OUTSIDE = "203.0.113.7"


@pytest.fixture(autouse=True)
def _metrics_settings(settings) -> None:
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1", "::1"]
    settings.TRUSTED_PROXY_COUNT = 0


def scrape(remote: str = "127.0.0.1", *, authorization: str | None = None, forwarded: str | None = None,
           method: str = "get"):
    headers = {}
    if authorization is not None:
        headers["HTTP_AUTHORIZATION"] = authorization
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return getattr(Client(), method)("/metrics", REMOTE_ADDR=remote, **headers)


def exposed(response) -> bool:
    """The response is the Prometheus text exposition with our own, django-prometheus' and (one process, no
    PROMETHEUS_MULTIPROC_DIR) prometheus_client's process metrics."""
    body = response.content.decode()
    return (response.status_code == 200 and response["Content-Type"].startswith("text/plain; version=")
            and "# TYPE autoshop_calls_total counter" in body and "django_http_requests_total_by_method" in body
            and "process_cpu_seconds_total" in body and "process_resident_memory_bytes" in body)


def test_a_scrape_from_this_host_without_a_token_gets_the_metrics() -> None:
    assert exposed(scrape("127.0.0.1"))
    assert exposed(scrape("::1"))


def test_a_scrape_from_elsewhere_without_a_token_is_refused_and_shows_nothing() -> None:
    response = scrape(OUTSIDE)
    assert response.status_code == 403
    assert b"autoshop_" not in response.content


def test_the_right_bearer_token_gets_the_metrics_from_anywhere() -> None:
    assert exposed(scrape(OUTSIDE, authorization=f"Bearer {TOKEN}"))
    assert exposed(scrape(OUTSIDE, authorization=f"bearer {TOKEN}"))  # the scheme is case-insensitive


@pytest.mark.parametrize("authorization", [
    "Bearer wrong-token",
    f"Bearer {TOKEN}x",
    f"Bearer {TOKEN[:-1]}",
    f"Basic {TOKEN}",
    TOKEN,
    "Bearer ",
], ids=["wrong", "longer", "shorter", "other-scheme", "no-scheme", "empty"])
def test_a_wrong_token_is_refused_even_from_an_allowed_address(authorization: str) -> None:
    assert scrape(OUTSIDE, authorization=authorization).status_code == 403
    assert scrape("127.0.0.1", authorization=authorization).status_code == 403


def test_with_no_token_configured_no_bearer_header_opens_it(settings) -> None:
    settings.METRICS_TOKEN = ""
    assert scrape(OUTSIDE, authorization="Bearer ").status_code == 403
    assert scrape(OUTSIDE, authorization="Bearer").status_code == 403
    assert exposed(scrape("127.0.0.1"))


def test_an_allowlisted_network_lets_its_addresses_in(settings) -> None:
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "2001:db8::/32"]
    assert exposed(scrape("10.20.30.40"))
    assert exposed(scrape("2001:db8::5"))
    assert scrape("11.0.0.1").status_code == 403
    assert scrape("127.0.0.1").status_code == 403  # the default is replaced, not extended


def test_an_empty_allowlist_leaves_only_the_token(settings) -> None:
    settings.METRICS_ALLOWED_IPS = []
    assert scrape("127.0.0.1").status_code == 403
    assert exposed(scrape("127.0.0.1", authorization=f"Bearer {TOKEN}"))


def test_x_forwarded_for_is_ignored_without_trusted_proxies() -> None:
    assert scrape(OUTSIDE, forwarded="127.0.0.1").status_code == 403


def test_behind_a_trusted_proxy_the_address_it_saw_decides(settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"  # the load balancer: every request comes from it
    assert exposed(scrape(proxy, forwarded="127.0.0.1"))  # the proxy saw a local scraper
    assert scrape(proxy, forwarded="127.0.0.1, " + OUTSIDE).status_code == 403  # a client-written entry is not trusted
    assert scrape(proxy).status_code == 403  # no header: the proxy's own address, not allowlisted


def test_only_get_is_served() -> None:
    assert scrape("127.0.0.1", method="post").status_code == 405


@pytest.mark.parametrize(("env", "message"), [
    ({"METRICS_ALLOWED_IPS": "127.0.0.1,localhost"}, "METRICS_ALLOWED_IPS: not an IP address or network: localhost"),
    ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN must be at least 32 random characters"),
    ({"PROMETHEUS_MULTIPROC_DIR": "/nonexistent/metrics"}, "PROMETHEUS_MULTIPROC_DIR is not a directory"),
], ids=["allowlist", "token", "multiproc-dir"])
def test_production_refuses_to_start_with_unusable_metrics_settings(env: dict[str, str], message: str) -> None:
    result = run_manage("check", **{**PRODUCTION_ENV, **env})
    assert result.returncode != 0 and message in result.stderr


def test_in_production_the_scraper_on_the_host_is_not_redirected_to_https() -> None:
    """The https redirect is on with DEBUG off; the scraper calls a worker over plain http, as the balancer's
    health check does."""
    script = ("import django; django.setup(); from django.test import Client; c = Client(HTTP_HOST='shop.example.com');"
              "print(c.get('/metrics').status_code, c.get('/admin/').status_code)")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,  # noqa: S603
                            env={**os.environ, **PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "autoshop.settings"},
                            check=False)
    assert result.stdout.split() == ["200", "301"], result.stderr
