"""Call recordings on the file system are served to signed-in staff only; recording is on by default in
development and off in production until RECORD_CALLS is set."""

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.test import Client

from autoshop.tests.subprocesses import PRODUCTION_ENV
from autoshop.tests.test_settings import _setting
from crm.tests.factories import CallLogFactory

pytestmark = pytest.mark.django_db


def _recorded_call_url() -> str:
    call = CallLogFactory.create()
    call.recording.save(f"{call.call_sid}.wav", ContentFile(b"RIFF-recording-bytes"), save=True)
    return call.recording.url


def test_staff_hear_a_recording_from_its_url_and_no_cache_keeps_it() -> None:
    url = _recorded_call_url()
    assert url.startswith("/media/recordings/")
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.create_user("advisor", password="pw-not-secret-123", is_staff=True))
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"RIFF-recording-bytes"  # type: ignore[attr-defined]
    assert response["Cache-Control"] == "private, no-store"
    assert client.get("/media/recordings/../../settings.py").status_code == 400  # outside MEDIA_ROOT
    assert client.get("/media/recordings/missing.wav").status_code == 404


def test_anyone_else_is_sent_to_the_admin_login_instead() -> None:
    url = _recorded_call_url()
    response = Client().get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    client = Client()
    client.force_login(User.objects.create_user("customer", password="pw-not-secret-123"))
    assert client.get(url).status_code == 302


def test_calls_are_recorded_by_default_in_development_and_not_in_production_until_set() -> None:
    assert _setting("RECORD_CALLS") == "True"
    assert _setting("RECORD_CALLS", **PRODUCTION_ENV) == "False"
    assert _setting("RECORD_CALLS", **{**PRODUCTION_ENV, "RECORD_CALLS": "true"}) == "True"
