"""A local server speaking the part of Twilio's REST API we use (create a call, update a live call),
for the real `twilio` client pointed at it with TWILIO_API_BASE_URL. Works from sync and async tests."""

import base64
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs

_CALLS = "/2010-04-01/Accounts/{sid}/Calls.json"


class FakeTwilioREST:
    """`POST /2010-04-01/Accounts/{AC}/Calls.json` and `.../Calls/{CA}.json`, Basic auth checked."""

    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "test-auth-token") -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.created: list[dict[str, list[str]]] = []
        self.updates: list[tuple[str, dict[str, list[str]]]] = []
        self.error: tuple[int, int, str] | None = None  # (http status, twilio code, message) for the next create
        self.url = ""
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
                status, body = fake._handle(self.path, self.headers.get("Authorization", ""), form)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _handle(self, path: str, auth: str, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if auth != expected:
            return 401, {"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003",
                         "status": 401}
        base = _CALLS.format(sid=self.account_sid)
        with self._lock:
            if path == base:
                if self.error is not None:
                    status, code, message = self.error
                    self.error = None
                    return status, {"code": code, "message": message, "status": status,
                                    "more_info": f"https://www.twilio.com/docs/errors/{code}"}
                self.created.append(form)
                return 201, self._call("CA" + uuid.uuid4().hex, form, "queued")
            if path.startswith(base[:-5] + "/") and path.endswith(".json"):
                call_sid = path[len(base[:-5]) + 1:-5]
                self.updates.append((call_sid, form))
                return 200, self._call(call_sid, form, "in-progress")
        return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}

    def _call(self, sid: str, form: dict[str, list[str]], status: str) -> dict[str, Any]:
        return {"sid": sid, "account_sid": self.account_sid, "to": form.get("To", [""])[0],
                "from": form.get("From", [""])[0], "status": status, "direction": "outbound-api",
                "api_version": "2010-04-01", "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json"}
