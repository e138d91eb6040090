"""The shop calendar: the built-in one (the database is the calendar) or Google Calendar.

The database is the source of truth for bookings; the calendar mirrors them for the staff. Our
own events go into Google as "transparent" (they do not show as busy), so a freebusy query
reports only what staff blocked by hand (training, a broken lift), which closes the shop to
bookings at those times. All calls here block: callers run them off the event loop.
"""

import base64
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from scheduling.availability import Interval

logger = logging.getLogger(__name__)

SCOPES = ["https://www.googleapis.com/auth/calendar"]
RETRY_DELAYS = (0.2, 0.4, 0.8)  # seconds between attempts on rate limits and server errors
UNREACHABLE_PAUSE = 30.0  # seconds a caller-facing request skips a calendar that just did not answer
_unreachable_until = 0.0  # this process's: when a caller-facing request may wait on the calendar again
_RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}


class CalendarError(Exception):
    """The calendar refused or failed; the booking itself stands."""


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    event_id: str
    summary: str
    description: str
    start: datetime
    end: datetime
    attendees: list[str] = field(default_factory=list)
    location: str = ""


class CalendarBackend(Protocol):
    def blocked(self, start: datetime, end: datetime) -> list[Interval]:
        """Times staff closed on the shared calendar (our own bookings excluded)."""

    def upsert_event(self, event: CalendarEvent) -> str:
        """Create or update the event (idempotent); returns its id."""

    def delete_event(self, event_id: str) -> None:
        """Remove the event; an event already gone is fine."""


def event_id_for(appointment_id: int) -> str:
    """A stable Google event id for an appointment (base32hex: a-v, 0-9), so a retried insert
    can never create a second event."""
    raw = f"bartsauto-appointment-{appointment_id}".encode()
    return base64.b32hexencode(raw).decode().rstrip("=").lower()


class BuiltinCalendar:
    """The embedded default: the shop's hours and the appointments table are the whole calendar."""

    def blocked(self, start: datetime, end: datetime) -> list[Interval]:
        return []

    def upsert_event(self, event: CalendarEvent) -> str:
        return event.event_id

    def delete_event(self, event_id: str) -> None:
        return None


class GoogleCalendar:
    """Google Calendar through google-api-python-client, with an explicit retry policy."""

    def __init__(self, service: Any, calendar_id: str, sleep: Callable[[float], None] = time.sleep,
                 retry_delays: tuple[float, ...] = RETRY_DELAYS, quick: bool = False) -> None:
        self._service = service
        self._calendar_id = calendar_id
        self._sleep = sleep
        self._delays = retry_delays
        self._quick = quick  # a caller is waiting: skip a calendar that did not answer a moment ago

    def blocked(self, start: datetime, end: datetime) -> list[Interval]:
        body = {"timeMin": start.isoformat(), "timeMax": end.isoformat(), "timeZone": settings.SHOP_TIMEZONE,
                "items": [{"id": self._calendar_id}]}
        result = self._execute(self._service.freebusy().query(body=body))
        calendar = result.get("calendars", {}).get(self._calendar_id, {})
        if calendar.get("errors"):
            raise CalendarError(f"freebusy failed: {calendar['errors'][0].get('reason', 'unknown')}")
        return [Interval(datetime.fromisoformat(b["start"].replace("Z", "+00:00")),
                         datetime.fromisoformat(b["end"].replace("Z", "+00:00")))
                for b in calendar.get("busy", [])]

    def upsert_event(self, event: CalendarEvent) -> str:
        body = self._body(event)
        events = self._service.events()
        try:
            self._execute(events.insert(calendarId=self._calendar_id, body=body, sendUpdates="none"))
        except _HttpStatus as exc:
            if exc.status != 409:
                raise CalendarError(str(exc)) from exc
            # Already there (a retry, or an earlier sync): bring it up to date instead.
            update = {k: v for k, v in body.items() if k != "id"}
            self._execute(events.update(calendarId=self._calendar_id, eventId=event.event_id, body=update,
                                        sendUpdates="none"))
        return event.event_id

    def delete_event(self, event_id: str) -> None:
        try:
            self._execute(self._service.events().delete(calendarId=self._calendar_id, eventId=event_id,
                                                        sendUpdates="none"))
        except _HttpStatus as exc:
            if exc.status not in (404, 410):
                raise CalendarError(str(exc)) from exc

    def _body(self, event: CalendarEvent) -> dict[str, Any]:
        tz = settings.SHOP_TIMEZONE
        return {
            "id": event.event_id,
            "summary": event.summary,
            "description": event.description,
            "location": event.location,
            "start": {"dateTime": event.start.isoformat(), "timeZone": tz},
            "end": {"dateTime": event.end.isoformat(), "timeZone": tz},
            "attendees": [{"email": email} for email in event.attendees],
            "transparency": "transparent",  # our bookings never show as "busy" to freebusy
            "extendedProperties": {"private": {"source": "bartsauto"}},
        }

    def _execute(self, request: Any) -> dict[str, Any]:
        from googleapiclient.errors import HttpError

        global _unreachable_until
        if self._quick and time.monotonic() < _unreachable_until:
            raise CalendarError("Google Calendar did not answer a moment ago; not waiting on it again")
        for attempt in range(len(self._delays) + 1):
            try:
                result: dict[str, Any] = request.execute(num_retries=0)
                _unreachable_until = 0.0
                return result
            except HttpError as exc:
                status = int(exc.resp.status)
                if _retryable(status, exc) and attempt < len(self._delays):
                    logger.warning("Google Calendar answered %s; retrying", status)
                    self._sleep(self._delays[attempt])
                    continue
                raise _HttpStatus(status, _reason(exc)) from exc
            except Exception as exc:  # transport: refused, timed out, the token refresh failed
                _unreachable_until = time.monotonic() + UNREACHABLE_PAUSE
                if attempt < len(self._delays):
                    self._sleep(self._delays[attempt])
                    continue
                raise CalendarError(f"Google Calendar unreachable: {type(exc).__name__}") from exc
        raise CalendarError("unreachable")  # pragma: no cover - the loop returns or raises


class _HttpStatus(CalendarError):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"Google Calendar answered {status} ({reason})")
        self.status = status


def _reason(exc: Any) -> str:
    try:
        details = json.loads(exc.content.decode())["error"]
        return details.get("errors", [{}])[0].get("reason") or details.get("status") or "error"
    except (ValueError, KeyError, IndexError, AttributeError):
        return "error"


def _retryable(status: int, exc: Any) -> bool:
    if status == 429 or status >= 500:
        return True
    return status == 403 and _reason(exc) in _RATE_LIMIT_REASONS


def _google_credentials() -> Any:
    if settings.GOOGLE_SERVICE_ACCOUNT_JSON or settings.GOOGLE_SERVICE_ACCOUNT_FILE:
        from google.oauth2 import service_account

        if settings.GOOGLE_SERVICE_ACCOUNT_JSON:
            return service_account.Credentials.from_service_account_info(
                json.loads(settings.GOOGLE_SERVICE_ACCOUNT_JSON), scopes=SCOPES)
        return service_account.Credentials.from_service_account_file(settings.GOOGLE_SERVICE_ACCOUNT_FILE,
                                                                     scopes=SCOPES)
    if not (settings.GOOGLE_CLIENT_ID and settings.GOOGLE_CLIENT_SECRET and settings.GOOGLE_REFRESH_TOKEN):
        raise ImproperlyConfigured(
            "CALENDAR_BACKEND=google needs GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET and GOOGLE_REFRESH_TOKEN, "
            "or a service account (GOOGLE_SERVICE_ACCOUNT_FILE / GOOGLE_SERVICE_ACCOUNT_JSON).")
    from google.oauth2.credentials import Credentials

    return Credentials(token=None, refresh_token=settings.GOOGLE_REFRESH_TOKEN, client_id=settings.GOOGLE_CLIENT_ID,
                       client_secret=settings.GOOGLE_CLIENT_SECRET, token_uri=settings.GOOGLE_TOKEN_URI,
                       scopes=SCOPES)


def staff_blocks(start: datetime, end: datetime) -> list[Interval]:
    """Times staff closed on the shared calendar in [start, end); none when the calendar is unreachable or
    misconfigured, so availability and bookings rest on the shop's own records instead of failing with it."""
    try:
        return get_calendar(retries=False).blocked(start, end)  # asked while a caller waits: one quick try
    except Exception as exc:  # noqa: BLE001 - availability must not die with the calendar
        logger.warning("calendar unavailable for availability (%s); using the shop's own records", type(exc).__name__)
        return []


def get_calendar(*, retries: bool = True) -> CalendarBackend:
    """The calendar named by CALENDAR_BACKEND (read now, not at import). Google's client gives up on a
    request after CALENDAR_TIMEOUT_SECONDS; `retries=False` makes one attempt, and none for UNREACHABLE_PAUSE
    after the calendar last failed to answer (for a caller on the line, whose booking stands anyway: the
    retry a minute later and the sweep, which always try, catch the calendar up)."""
    name = settings.CALENDAR_BACKEND
    if name == "builtin":
        return BuiltinCalendar()
    if name == "google":
        import httplib2
        from google_auth_httplib2 import AuthorizedHttp
        from googleapiclient.discovery import build

        options = {"api_endpoint": settings.GOOGLE_CALENDAR_API_URL} if settings.GOOGLE_CALENDAR_API_URL else None
        http = AuthorizedHttp(_google_credentials(), http=httplib2.Http(timeout=settings.CALENDAR_TIMEOUT_SECONDS))
        service = build("calendar", "v3", http=http, static_discovery=True, client_options=options,
                        cache_discovery=False)
        return GoogleCalendar(service, settings.GOOGLE_CALENDAR_ID, retry_delays=RETRY_DELAYS if retries else (),
                              quick=not retries)
    raise ImproperlyConfigured(f"CALENDAR_BACKEND={name!r} is not known; use 'builtin' or 'google'.")
