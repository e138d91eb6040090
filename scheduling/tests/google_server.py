"""A local server speaking the parts of Google's OAuth token endpoint and Calendar API v3 we use,
so the real google-api-python-client and google-auth code runs against it end to end.

Usable from sync and async tests alike (it runs in a background thread):

    with FakeGoogleCalendar() as google:
        settings.GOOGLE_CALENDAR_API_URL, settings.GOOGLE_TOKEN_URI = google.api_url, google.token_url
"""

import json
import re
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

ACCESS_TOKEN = "ya29.local-test-token"
_EVENTS = re.compile(r"^/calendar/v3/calendars/(?P<cal>[^/]+)/events(?:/(?P<event>[^/]+))?$")


def _error(status: int, reason: str, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "errors": [{"domain": "global", "reason": reason,
                                                                      "message": message}]}}


class FakeGoogleCalendar:
    """Token endpoint + freeBusy + events insert/update/patch/delete, with injectable failures."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        self.blocks: list[dict[str, str]] = []  # {"start": iso, "end": iso}: staff blocks freeBusy reports
        self.requests: list[dict[str, Any]] = []
        self.token_requests: list[dict[str, list[str]]] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.api_url = self.token_url = ""

    def fail_next(self, status: int | None, times: int = 1) -> None:
        """Answer the next `times` API calls with `status` (429, 500, 503, "403" rate limit); None clears."""
        with self._lock:
            self._failures = [] if status is None else [status] * times

    def __enter__(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _answer(self, status: int, body: dict[str, Any] | None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, body = fake._dispatch(self.command, self.path, headers, raw)
                self._answer(status, body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self._server.server_address[1]
        self.api_url = f"http://127.0.0.1:{port}/calendar/v3/"
        self.token_url = f"http://127.0.0.1:{port}/token"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- the API ----------------------------------------------------------------------------------

    def _dispatch(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        url = urlsplit(target)
        if url.path == "/token" and method == "POST":
            form = parse_qs(raw.decode())
            self.token_requests.append(form)
            if form.get("grant_type") not in (["refresh_token"], ["urn:ietf:params:oauth:grant-type:jwt-bearer"]):
                return 400, {"error": "unsupported_grant_type"}
            return 200, {"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}
        body = json.loads(raw) if raw else None
        with self._lock:
            self.requests.append({"method": method, "path": url.path, "query": parse_qs(url.query),
                                  "headers": headers, "body": body})
            if headers.get("authorization") != f"Bearer {ACCESS_TOKEN}":
                return 401, _error(401, "authError", "Invalid Credentials")
            if self._failures:
                status = self._failures.pop(0)
                reason = "rateLimitExceeded" if status in (403, 429) else "backendError"
                return status, _error(status, reason, "Injected failure")
            if url.path == "/calendar/v3/freeBusy" and method == "POST":
                return 200, self._freebusy(body or {})
            match = _EVENTS.match(url.path)
            if match:
                return self._event(method, unquote(match["cal"]), match["event"], body)
        return 404, _error(404, "notFound", "Not Found")

    def _freebusy(self, body: dict[str, Any]) -> dict[str, Any]:
        lo, hi = (datetime.fromisoformat(body[k].replace("Z", "+00:00")) for k in ("timeMin", "timeMax"))
        busy = [b for b in self.blocks
                if datetime.fromisoformat(b["start"]) < hi and lo < datetime.fromisoformat(b["end"])]
        return {"kind": "calendar#freeBusy", "timeMin": body["timeMin"], "timeMax": body["timeMax"],
                "calendars": {item["id"]: {"busy": busy} for item in body.get("items", [])}}

    def _event(self, method: str, calendar: str, event_id: str | None, body: Any) -> tuple[int, Any]:
        if method == "POST" and event_id is None:
            if body["id"] in self.events:
                return 409, _error(409, "duplicate", "The requested identifier already exists.")
            self.events[body["id"]] = {**body, "status": "confirmed", "calendar": calendar}
            return 200, self.events[body["id"]]
        if event_id is None:
            return 404, _error(404, "notFound", "Not Found")
        if event_id not in self.events:
            return 404, _error(404, "notFound", "Not Found")
        if method == "DELETE":
            del self.events[event_id]
            return 204, None
        if method in ("PUT", "PATCH"):
            self.events[event_id] = {**(self.events[event_id] if method == "PATCH" else {}), **body, "id": event_id,
                                     "status": "confirmed", "calendar": calendar}
            return 200, self.events[event_id]
        return 200, self.events[event_id]
