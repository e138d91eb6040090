"""The media stream and webhooks against the product as deployed (`manage.py serve` in its own process): what a
client sees on the wire when a `start` is refused, a token is reused, frames are hostile or a flood,
or a signed webhook field is absurd."""

import asyncio
import contextlib
import time

import pytest
import websockets

from voice.stream_limits import CLOSE_PROTOCOL_ERRORS, CLOSE_TOKEN_REFUSED, MAX_PROTOCOL_ERRORS
from voice.tests.live_server import AUTH_TOKEN, SECRET_KEY, WireCall, media_stream, new_call_sid, web_server

__all__ = ["web_server"]  # the fixture, imported for this module's tests


async def _refused_start_code(server, call_sid: str, parameters: dict[str, str]) -> tuple[int | None, float]:
    async with media_stream(server) as socket:
        call = WireCall(socket, call_sid=call_sid)
        await call.start(parameters)
        sent = time.monotonic()
        code = await call.closed_code(timeout=1.5)
        return code, time.monotonic() - sent


def _without_token(parameters: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in parameters.items() if k != "token"}


def _altered(token: str) -> str:
    return token[:-1] + ("0" if token[-1] != "0" else "1")


async def test_an_unsigned_upgrade_is_refused_with_403_before_any_websocket(web_server) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with media_stream(web_server, signed=False):
            pass
    assert refused.value.response.status_code == 403


async def test_a_start_without_a_token_is_closed_with_4401_within_a_second(web_server) -> None:
    call_sid, parameters = web_server.answer()
    code, took = await _refused_start_code(web_server, call_sid, _without_token(parameters))
    assert code == CLOSE_TOKEN_REFUSED and took < 1.0


async def test_a_start_with_an_altered_token_is_closed_with_4401_within_a_second(web_server) -> None:
    call_sid, parameters = web_server.answer()
    code, took = await _refused_start_code(web_server, call_sid,
                                           {**parameters, "token": _altered(parameters["token"])})
    assert code == CLOSE_TOKEN_REFUSED and took < 1.0


async def test_a_start_with_another_calls_token_is_closed_with_4401_within_a_second(web_server) -> None:
    _, parameters = web_server.answer(caller="+15550102000")
    code, took = await _refused_start_code(web_server, new_call_sid(), parameters)
    assert code == CLOSE_TOKEN_REFUSED and took < 1.0


async def test_a_start_with_an_expired_token_is_closed_with_4401_within_a_second(web_server, settings) -> None:
    from telephony.tokens import stream_token

    settings.SECRET_KEY, settings.TWILIO_AUTH_TOKEN = SECRET_KEY, AUTH_TOKEN  # mint as the server would
    call_sid, parameters = web_server.answer()
    fields = _without_token(parameters)
    expired = stream_token(call_sid, fields, now=time.time() - 3600)
    code, took = await _refused_start_code(web_server, call_sid, {**fields, "token": expired})
    assert code == CLOSE_TOKEN_REFUSED and took < 1.0


async def test_a_start_naming_another_caller_is_refused_on_the_wire(web_server) -> None:
    call_sid, parameters = web_server.answer(caller="+15550102000")
    code, _ = await _refused_start_code(web_server, call_sid, {**parameters, "caller": "+15550102001"})
    assert code == CLOSE_TOKEN_REFUSED


async def test_a_stream_token_opens_one_stream_only(web_server) -> None:
    call_sid, parameters = web_server.answer()
    async with media_stream(web_server) as socket:
        first = WireCall(socket, call_sid=call_sid)
        await first.start(parameters)
        await first.agent_audio()  # the greeting: the first stream is live
        code, took = await _refused_start_code(web_server, call_sid, parameters)
        assert code == CLOSE_TOKEN_REFUSED and took < 1.0
        assert await first.closed_code(timeout=0.3) is None  # the first stream goes on
        await first.stop()


async def _greeting_over(call: WireCall, quiet: float = 0.8) -> None:
    """Wait until the agent has sent nothing for `quiet` seconds."""
    while True:
        count = call.media_received
        await asyncio.sleep(0)
        try:
            await asyncio.wait_for(call.agent_audio(timeout=quiet), quiet + 0.5)
        except AssertionError:
            if call.media_received == count:
                return


@pytest.mark.parametrize("frame", [
    "[" * 30000 + "]" * 30000,  # RecursionError in the JSON parser, if it ever got that far
    "[" * 3000 + "]" * 3000,  # as deep, under the size limit
    '{"event": "media", "media": {"payload": "' + "A" * 20000 + '"}}',  # oversize
], ids=["deep-60k", "deep-6k", "oversize"])
async def test_a_hostile_frame_does_not_end_a_live_call(web_server, frame: str) -> None:
    call_sid, parameters = web_server.answer()
    async with media_stream(web_server) as socket:
        call = WireCall(socket, call_sid=call_sid)
        await call.start(parameters)
        await call.agent_audio()
        await socket.send(frame)
        await _greeting_over(call)
        assert await call.closed_code(timeout=0.2) is None
        before = call.media_received
        await call.send({"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": "0"}})
        await call.agent_audio(timeout=20)  # the agent answers the key press
        assert call.media_received > before


async def test_a_flood_of_junk_frames_ends_the_stream_with_4408_and_the_call_log_counts_it(web_server) -> None:
    call_sid, parameters = web_server.answer()
    async with media_stream(web_server) as socket:
        call = WireCall(socket, call_sid=call_sid)
        await call.start(parameters)
        await call.agent_audio()
        with contextlib.suppress(websockets.ConnectionClosed):
            for index in range(MAX_PROTOCOL_ERRORS * 5):
                await socket.send(f"junk {index}")
        code = await call.closed_code(timeout=5)
    assert code == CLOSE_PROTOCOL_ERRORS
    for _ in range(100):  # the consumer writes the call log as the stream closes
        rows = web_server.query("SELECT protocol_errors FROM crm_calllog WHERE call_sid = ?", call_sid)
        if rows and rows[0][0]:
            break
        await asyncio.sleep(0.05)
    assert rows == [(MAX_PROTOCOL_ERRORS,)]
    lines = [line for line in web_server.log_text().splitlines() if call_sid in line and "dropped" in line]
    assert 1 <= len(lines) <= 3, lines  # the first error, then summaries: not one line per frame


async def test_a_signed_status_callback_with_a_30_digit_duration_is_no_server_error(web_server) -> None:
    call_sid, _ = web_server.answer()
    status, body = web_server.post("/twilio/status", {"CallSid": call_sid, "CallStatus": "completed",
                                                          "CallDuration": "9" * 30})
    assert status == 204, body
    assert web_server.query("SELECT outcome, duration FROM crm_calllog WHERE call_sid = ?", call_sid) == [
        ("abandoned", None)]


async def test_a_caller_who_hangs_up_and_goes_is_logged_without_an_error(web_server) -> None:
    """Twilio sends `stop` and may drop the socket at once: closing a stream already gone is no error."""
    call_sid, parameters = web_server.answer()
    async with media_stream(web_server) as socket:
        call = WireCall(socket, call_sid=call_sid)
        await call.start(parameters)
        await call.agent_audio()
        await call.stop()  # and the `async with` closes the socket straight away
    for _ in range(100):
        rows = web_server.query("SELECT outcome FROM crm_calllog WHERE call_sid = ?", call_sid)
        if rows and rows[0][0] != "in_progress":
            break
        await asyncio.sleep(0.05)
    assert rows and rows[0][0] != "in_progress"
    await asyncio.sleep(0.3)  # the close after `stop` comes once the log is written
    assert "error handling a StreamStopped frame" not in web_server.log_text()
