"""Production refuses to start without its secrets, and is clean under `check --deploy`."""

import pytest

from autoshop.tests.subprocesses import PRODUCTION_ENV
from autoshop.tests.subprocesses import run_manage as _manage


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "TWILIO_AUTH_TOKEN"])
def test_production_refuses_to_start_without(missing: str) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = _manage("check", **env)
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


def test_production_settings_pass_the_deploy_check() -> None:
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_local_defaults_need_no_environment() -> None:
    result = _manage("check")
    assert result.returncode == 0, result.stderr


PUBLISHED_DEV_KEY = "django-insecure-local-development-key-not-for-production-use"


@pytest.mark.parametrize("key", [
    PUBLISHED_DEV_KEY,  # the key in settings.py, i.e. in every clone of the repository
    "x",
    "ab" * 40,  # long enough, but fewer than 5 distinct characters
    "django-insecure-" + "k3Jq9vT2mX8pL5wR7zN4bH6yF1dG0sC-eUoIiQxRkZtVb",  # Django's own marker of a throwaway key
])
def test_production_refuses_to_start_with_a_weak_or_published_secret_key(key: str) -> None:
    for command in (["check"], ["check", "--deploy"]):
        result = _manage(*command, **{**PRODUCTION_ENV, "SECRET_KEY": key})
        assert result.returncode != 0, command
        assert "ImproperlyConfigured: SECRET_KEY" in result.stderr
        assert "at least 50 characters" in result.stderr and "5 different characters" in result.stderr
        if len(key) > 10:
            assert key not in result.stderr  # the message never repeats the key


@pytest.mark.parametrize("url", [
    None,  # unset: the local default http://127.0.0.1:8000
    "http://127.0.0.1:8000",
    "https://127.0.0.1:8443",
    "https://localhost",
    "https://[::1]:8000",
    "http://shop.example.com",  # a real host, but Twilio's signatures and the wss:// stream need https
    "shop.example.com",
])
def test_production_refuses_to_start_with_a_public_base_url_twilio_cannot_use(url: str | None) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "PUBLIC_BASE_URL"}
    if url is not None:
        env["PUBLIC_BASE_URL"] = url
    result = _manage("check", "--deploy", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured: PUBLIC_BASE_URL" in result.stderr
    assert "https://" in result.stderr and "not localhost" in result.stderr



def _setting(name: str, **env: str) -> str:
    result = _manage("shell", "-v", "0", "-c", f"from django.conf import settings; print(repr(settings.{name}))", **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_forwarded_protocol_header_is_trusted_only_when_configured() -> None:
    assert _setting("SECURE_PROXY_SSL_HEADER", **PRODUCTION_ENV) == "None"
    behind_proxy = {**PRODUCTION_ENV, "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}
    assert _setting("SECURE_PROXY_SSL_HEADER", **behind_proxy) == "('HTTP_X_FORWARDED_PROTO', 'https')"
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **behind_proxy)
    assert result.returncode == 0, result.stderr
