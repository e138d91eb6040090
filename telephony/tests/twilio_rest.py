"""A local server speaking the part of Twilio's REST API we use (create a call, update a live call,
send a text message), for the real `twilio` client pointed at it (`client.api.base_url = fake.url`, or
TWILIO_API_BASE_URL). Threaded, so it serves sync and async tests alike; records every request it accepts."""

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

Form = dict[str, list[str]]
API = "/2010-04-01/Accounts/"


@dataclass(frozen=True, slots=True)
class TwilioError:
    """An error answer as Twilio's API gives it: HTTP status, Twilio error code, message."""

    status: int
    code: int
    message: str

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "status": self.status,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}"}


INVALID_TO = TwilioError(400, 21211, "Invalid 'To' Phone Number")
AUTHENTICATE = TwilioError(401, 20003, "Authenticate")
NOT_FOUND = TwilioError(404, 20404, "The requested resource was not found")
NO_TO = TwilioError(400, 21201, "No 'To' number is specified")
NO_FROM = TwilioError(400, 21213, "No 'From' number is specified")
SERVER_ERROR = TwilioError(500, 20500, "Internal Server Error")
# The Messages API's own refusals.
MESSAGE_NO_TO = TwilioError(400, 21604, "A 'To' phone number is required.")
MESSAGE_NO_FROM = TwilioError(400, 21603, "A 'From' phone number is required.")
MESSAGE_NO_BODY = TwilioError(400, 21602, "Message body is required.")
UNSUBSCRIBED = TwilioError(400, 21610, "Attempt to send to unsubscribed recipient")


class FakeTwilioREST:
    """`POST /2010-04-01/Accounts/{AC}/Calls.json` (create, 201), `.../Calls/{CA}.json` (update, 200) and
    `.../Messages.json` (send a text, 201), with Basic auth checked (401 otherwise). Use as a context
    manager; `.url` is its base URL.

    `created` holds each accepted call create's form (lists, so a repeated `StatusCallbackEvent` keeps every
    value), `updates` each `(call_sid, form)` and `texts` each accepted message's form. `fail_next(error)`
    makes the next create (or, with `on="update"` / `on="message"`, the next update / text) answer with that
    error; `delay` slows every answer."""

    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "test-auth-token",
                 delay: float = 0.0) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.delay = delay
        self.created: list[Form] = []
        self.updates: list[tuple[str, Form]] = []
        self.texts: list[Form] = []
        self.calls: dict[str, dict[str, Any]] = {}  # call sid -> the Call JSON last returned
        self.messages: dict[str, dict[str, Any]] = {}  # message sid -> the Message JSON returned
        self.rejected: list[tuple[str, int]] = []  # (path, HTTP status) of requests answered with an error
        self.url = ""
        self._failures: dict[str, list[TwilioError]] = {"create": [], "update": [], "message": []}
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    def fail_next(self, error: TwilioError = INVALID_TO, *, on: str = "create") -> None:
        """The next `on` request ("create", "update" or "message") gets `error` instead of success."""
        with self._lock:
            self._failures[on].append(error)

    def __enter__(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
                status, body = fake._handle(urlsplit(self.path).path, self.headers.get("Authorization", ""), form)
                self._answer(status, body)

            def do_GET(self) -> None:
                status, body = fake._fetch(urlsplit(self.path).path, self.headers.get("Authorization", ""))
                self._answer(status, body)

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                if fake.delay:
                    time.sleep(fake.delay)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, name="fake-twilio-rest", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # --- the API ------------------------------------------------------------------------------------

    def _authorized(self, auth: str) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return auth == expected

    def _route(self, path: str) -> tuple[str, str | None] | None:
        """("create", None) or ("update", call_sid) for our account's Calls URLs, ("message", None) for its
        Messages URL, else None."""
        if path == f"{API}{self.account_sid}/Messages.json":
            return "message", None
        calls = f"{API}{self.account_sid}/Calls"
        if path == calls + ".json":
            return "create", None
        if path.startswith(calls + "/") and path.endswith(".json"):
            return "update", path[len(calls) + 1:-len(".json")]
        return None

    def _handle(self, path: str, auth: str, form: Form) -> tuple[int, dict[str, Any]]:
        with self._lock:
            error = self._error_for(path, auth, form)
            if error is not None:
                self.rejected.append((path, error.status))
                return error.status, error.body()
            kind, call_sid = self._route(path) or ("", None)
            if kind == "message":
                self.texts.append(form)
                sid = "SM" + uuid.uuid4().hex
                self.messages[sid] = self._message(sid, form)
                return 201, self.messages[sid]
            if kind == "create":
                self.created.append(form)
                sid = "CA" + uuid.uuid4().hex
                self.calls[sid] = self._call(sid, form, "queued")
                return 201, self.calls[sid]
            assert call_sid is not None
            self.updates.append((call_sid, form))
            status = (form.get("Status") or ["in-progress"])[0]
            self.calls[call_sid] = self._call(call_sid, form, status, self.calls.get(call_sid))
            return 200, self.calls[call_sid]

    def _error_for(self, path: str, auth: str, form: Form) -> TwilioError | None:
        if not self._authorized(auth):
            return AUTHENTICATE
        route = self._route(path)
        if route is None:
            return NOT_FOUND
        kind, call_sid = route
        if self._failures[kind]:
            return self._failures[kind].pop(0)
        if kind == "message":
            return self._message_error(form)
        if kind == "create" and not form.get("To", [""])[0]:
            return NO_TO
        if kind == "create" and not form.get("From", [""])[0]:
            return NO_FROM
        if kind == "update" and not (call_sid or "").startswith("CA"):
            return NOT_FOUND
        return None

    @staticmethod
    def _message_error(form: Form) -> TwilioError | None:
        if not form.get("To", [""])[0]:
            return MESSAGE_NO_TO
        if not form.get("From", [""])[0] and not form.get("MessagingServiceSid", [""])[0]:
            return MESSAGE_NO_FROM
        if not form.get("Body", [""])[0] and not form.get("MediaUrl"):
            return MESSAGE_NO_BODY
        return None

    def _fetch(self, path: str, auth: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if not self._authorized(auth):
                return AUTHENTICATE.status, AUTHENTICATE.body()
            kind, call_sid = self._route(path) or ("", None)
            if kind == "update" and call_sid in self.calls:
                return 200, self.calls[call_sid]
            return NOT_FOUND.status, NOT_FOUND.body()

    def _call(self, sid: str, form: Form, status: str, before: dict[str, Any] | None = None) -> dict[str, Any]:
        """A Call resource shaped like Twilio's (the fields the client and our code read, and then some)."""
        now = format_datetime(datetime.now(UTC), usegmt=True)
        call = dict(before or {
            "sid": sid, "account_sid": self.account_sid, "parent_call_sid": None,
            "to": form.get("To", [""])[0], "to_formatted": form.get("To", [""])[0],
            "from": form.get("From", [""])[0], "from_formatted": form.get("From", [""])[0],
            "phone_number_sid": "PN" + "0" * 32, "direction": "outbound-api", "api_version": "2010-04-01",
            "answered_by": None, "forwarded_from": None, "caller_name": None, "group_sid": None,
            "price": None, "price_unit": "USD", "duration": None, "start_time": None, "end_time": None,
            "date_created": now, "queue_time": "0", "trunk_sid": None, "annotation": None,
            "uri": f"{API}{self.account_sid}/Calls/{sid}.json",
            "subresource_uris": {
                "notifications": f"{API}{self.account_sid}/Calls/{sid}/Notifications.json",
                "recordings": f"{API}{self.account_sid}/Calls/{sid}/Recordings.json",
            },
        })
        call.update({"status": status, "date_updated": now})
        return call

    def _message(self, sid: str, form: Form) -> dict[str, Any]:
        """A Message resource shaped like Twilio's answer to a create: queued, not yet priced or sent."""
        now = format_datetime(datetime.now(UTC), usegmt=True)
        body = form.get("Body", [""])[0]
        return {
            "sid": sid, "account_sid": self.account_sid, "messaging_service_sid": None,
            "to": form.get("To", [""])[0], "from": form.get("From", [""])[0], "body": body,
            "status": "queued", "direction": "outbound-api", "api_version": "2010-04-01",
            "num_segments": str(max(1, -(-len(body) // 153) if len(body) > 160 else 1)), "num_media": "0",
            "price": None, "price_unit": "USD", "error_code": None, "error_message": None,
            "date_created": now, "date_updated": now, "date_sent": None,
            "uri": f"{API}{self.account_sid}/Messages/{sid}.json",
            "subresource_uris": {"media": f"{API}{self.account_sid}/Messages/{sid}/Media.json"},
        }
