"""The calendar backends: Google through its real client (HTTP mocks and a local server), built-in."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from googleapiclient.discovery import build
from googleapiclient.http import HttpMockSequence

from scheduling.calendars import (
    BuiltinCalendar,
    CalendarError,
    CalendarEvent,
    GoogleCalendar,
    event_id_for,
    get_calendar,
)
from scheduling.tests.google_server import FakeGoogleCalendar

NY = ZoneInfo("America/New_York")
START, END = datetime(2026, 11, 24, 10, 0, tzinfo=NY), datetime(2026, 11, 24, 10, 30, tzinfo=NY)
EVENT = CalendarEvent(event_id=event_id_for(42), summary="Oil change: Marge", description="2018 Honda Civic",
                      start=START, end=END, attendees=["marge@example.com"], location="1200 Market Street")


def _error(status: int, reason: str) -> str:
    return json.dumps({"error": {"code": status, "message": reason, "errors": [{"domain": "global",
                                                                                  "reason": reason}]}})


def google(responses: list[tuple[dict, str]]) -> tuple[GoogleCalendar, HttpMockSequence, list[float]]:
    http = HttpMockSequence(responses)
    sleeps: list[float] = []
    service = build("calendar", "v3", http=http, static_discovery=True)
    return GoogleCalendar(service, "shop@example.com", sleep=sleeps.append), http, sleeps


def test_event_ids_are_valid_google_ids_and_stable() -> None:
    import re

    assert event_id_for(42) == event_id_for(42) != event_id_for(43)
    assert re.fullmatch(r"[a-v0-9]{5,1024}", event_id_for(42))


def test_freebusy_busy_blocks_become_intervals() -> None:
    body = {"calendars": {"shop@example.com": {"busy": [{"start": "2026-11-24T17:00:00Z",
                                                         "end": "2026-11-24T18:00:00Z"}]}}}
    calendar, http, _ = google([({"status": "200"}, json.dumps(body))])
    blocks = calendar.blocked(START, END)
    assert [(b.start.hour, b.end.hour) for b in blocks] == [(17, 18)]
    uri, method, sent, _ = http.request_sequence[0]
    assert uri.startswith("https://www.googleapis.com/calendar/v3/freeBusy") and method == "POST"
    assert json.loads(sent)["items"] == [{"id": "shop@example.com"}]


def test_insert_sends_our_id_transparency_attendees_and_timezone() -> None:
    calendar, http, _ = google([({"status": "200"}, "echo_request_body")])
    assert calendar.upsert_event(EVENT) == EVENT.event_id
    sent = json.loads(http.request_sequence[0][2])
    assert sent["id"] == EVENT.event_id and sent["transparency"] == "transparent"
    assert sent["attendees"] == [{"email": "marge@example.com"}]
    assert sent["start"] == {"dateTime": "2026-11-24T10:00:00-05:00", "timeZone": "America/New_York"}


def test_a_duplicate_insert_counts_as_success_and_updates_the_event() -> None:
    calendar, http, _ = google([({"status": "409"}, _error(409, "duplicate")), ({"status": "200"}, "{}")])
    assert calendar.upsert_event(EVENT) == EVENT.event_id
    assert http.request_sequence[1][1] == "PUT" and EVENT.event_id in http.request_sequence[1][0]


def test_server_errors_and_rate_limits_are_retried_with_backoff() -> None:
    calendar, http, sleeps = google([({"status": "503"}, _error(503, "backendError")),
                                     ({"status": "429"}, _error(429, "rateLimitExceeded")),
                                     ({"status": "403"}, _error(403, "userRateLimitExceeded")),
                                     ({"status": "200"}, "{}")])
    calendar.upsert_event(EVENT)
    assert sleeps == [0.2, 0.4, 0.8] and len(http.request_sequence) == 4


@pytest.mark.parametrize(("status", "reason"), [(400, "badRequest"), (403, "forbidden"), (401, "authError")])
def test_other_client_errors_are_not_retried(status: int, reason: str) -> None:
    calendar, http, sleeps = google([({"status": str(status)}, _error(status, reason))])
    with pytest.raises(CalendarError):
        calendar.upsert_event(EVENT)
    assert sleeps == [] and len(http.request_sequence) == 1


def test_deleting_a_missing_event_is_fine() -> None:
    calendar, _, _ = google([({"status": "404"}, _error(404, "notFound")), ({"status": "410"}, _error(410, "deleted"))])
    calendar.delete_event("abc12")
    calendar.delete_event("abc12")


def test_real_oauth_refresh_and_calls_against_a_local_google(settings) -> None:
    with FakeGoogleCalendar() as fake:
        settings.CALENDAR_BACKEND = "google"
        settings.GOOGLE_CLIENT_ID, settings.GOOGLE_CLIENT_SECRET = "client-id", "client-secret"
        settings.GOOGLE_REFRESH_TOKEN, settings.GOOGLE_CALENDAR_ID = "refresh-token", "shop@example.com"
        settings.GOOGLE_CALENDAR_API_URL, settings.GOOGLE_TOKEN_URI = fake.api_url, fake.token_url
        fake.blocks = [{"start": "2026-11-24T12:00:00-05:00", "end": "2026-11-24T13:00:00-05:00"}]
        calendar = get_calendar()
        assert [b.start.hour for b in calendar.blocked(START.replace(hour=8), START.replace(hour=18))] == [12]
        calendar.upsert_event(EVENT)
        calendar.upsert_event(EVENT)  # a retry: still one event
        assert list(fake.events) == [EVENT.event_id]
        calendar.delete_event(EVENT.event_id)
        assert fake.events == {}
        assert fake.token_requests[0]["grant_type"] == ["refresh_token"]
        assert fake.token_requests[0]["refresh_token"] == ["refresh-token"]


def test_backend_is_chosen_by_settings(settings) -> None:
    settings.CALENDAR_BACKEND = "builtin"
    assert isinstance(get_calendar(), BuiltinCalendar)
    settings.CALENDAR_BACKEND = "google"
    settings.GOOGLE_REFRESH_TOKEN = settings.GOOGLE_SERVICE_ACCOUNT_FILE = settings.GOOGLE_SERVICE_ACCOUNT_JSON = ""
    with pytest.raises(ImproperlyConfigured, match="GOOGLE_REFRESH_TOKEN"):
        get_calendar()
    settings.CALENDAR_BACKEND = "outlook"
    with pytest.raises(ImproperlyConfigured):
        get_calendar()


def test_a_calendar_that_does_not_answer_costs_a_waiting_caller_one_timeout_then_none(settings) -> None:
    """A Google Calendar that accepts connections and never answers (hung): the first caller-facing request
    gives up after CALENDAR_TIMEOUT_SECONDS, the next ones within UNREACHABLE_PAUSE do not wait at all, and
    the background retry (which always tries) still reaches it, and clears the pause when it answers."""
    import socket
    import time

    from scheduling.calendars import staff_blocks

    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)  # connections complete in the backlog; nothing ever reads or answers them
    url = f"http://127.0.0.1:{hung.getsockname()[1]}"
    settings.CALENDAR_BACKEND, settings.CALENDAR_TIMEOUT_SECONDS = "google", 0.3
    settings.GOOGLE_CLIENT_ID, settings.GOOGLE_CLIENT_SECRET, settings.GOOGLE_REFRESH_TOKEN = "id", "secret", "refresh"
    settings.GOOGLE_SERVICE_ACCOUNT_FILE = settings.GOOGLE_SERVICE_ACCOUNT_JSON = ""
    settings.GOOGLE_CALENDAR_API_URL, settings.GOOGLE_TOKEN_URI = url + "/calendar/v3/", url + "/token"
    try:
        started = time.monotonic()
        assert staff_blocks(START, END) == []
        first = time.monotonic() - started
        started = time.monotonic()
        assert staff_blocks(START, END) == []
        second = time.monotonic() - started
        with pytest.raises(CalendarError):
            get_calendar(retries=True).upsert_event(EVENT)  # the retry's path tries (and waits) regardless
    finally:
        hung.close()
    assert 0.3 <= first < 1.5 and second < 0.1, (first, second)
    with FakeGoogleCalendar() as fake:  # the calendar is back: the background retry gets through
        settings.GOOGLE_CALENDAR_API_URL, settings.GOOGLE_TOKEN_URI = fake.api_url, fake.token_url
        assert get_calendar(retries=True).upsert_event(EVENT) == EVENT.event_id
        assert staff_blocks(START, END) == []
        assert any(r["path"].endswith("freeBusy") for r in fake.requests)  # asked again: the pause is over
