"""A local ElevenLabs streaming text-to-speech endpoint (`POST /v1/text-to-speech/{voice_id}/stream`).

    async with FakeElevenLabs(api_key="xi-test") as el:
        tts = ElevenLabsTTS("xi-test", el.url, voice_id="21m00Tcm4TlvDq8ikWAM", model_id="eleven_flash_v2_5")
        audio = b"".join([chunk async for chunk in tts.synthesize("Hello")])
        assert audio == el.audio_for("Hello")
        el.requests[0].voice_id, el.requests[0].query["output_format"], el.requests[0].body["model_id"]

Checks the `xi-api-key` header (401 in ElevenLabs' error shape otherwise) and that `output_format` is
`ulaw_8000` (the only format this peer produces; 400 otherwise). Faults: `fail_status` answers every request
with that status; `fail_after_bytes` resets the connection after that much of the audio.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from voice.tests.peers import start_app
from voice.tests.peers.deepgram_server import cut_off, sample_audio


@dataclass
class SpeechRequest:
    voice_id: str
    query: dict[str, str]
    body: dict[str, Any]
    headers: dict[str, str]


class FakeElevenLabs:
    """Streams `audio_for(text)` in `chunk_size` pieces after `first_byte_delay` s."""

    def __init__(
        self,
        api_key: str = "xi-test",
        *,
        audio_for: Callable[[str], bytes] = sample_audio,
        chunk_size: int = 400,
        first_byte_delay: float = 0.0,
        chunk_delay: float = 0.0,
    ) -> None:
        self.api_key = api_key
        self.audio_for = audio_for
        self.chunk_size = chunk_size
        self.first_byte_delay = first_byte_delay
        self.chunk_delay = chunk_delay
        self.fail_status: int | None = None
        self.fail_after_bytes: int | None = None
        self.requests: list[SpeechRequest] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/v1/text-to-speech/{voice_id}/stream", self._stream)
        self._runner, port = await start_app(app)
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("xi-api-key") != self.api_key:
            detail = {"status": "invalid_api_key", "message": "Invalid API key"}
            return web.json_response({"detail": detail}, status=HTTPStatus.UNAUTHORIZED)
        body = await request.json()
        self.requests.append(
            SpeechRequest(request.match_info["voice_id"], dict(request.query), body, dict(request.headers))
        )
        if request.query.get("output_format") != "ulaw_8000":
            detail = {"status": "invalid_output_format", "message": "FakeElevenLabs only produces ulaw_8000"}
            return web.json_response({"detail": detail}, status=HTTPStatus.BAD_REQUEST)
        if not body.get("text"):
            detail = {"status": "invalid_text", "message": "Text is required"}
            return web.json_response({"detail": detail}, status=HTTPStatus.BAD_REQUEST)
        if self.fail_status is not None:
            detail = {"status": "server_error", "message": "FakeElevenLabs failed on purpose"}
            return web.json_response({"detail": detail}, status=self.fail_status)
        await asyncio.sleep(self.first_byte_delay)
        response = web.StreamResponse(headers={"Content-Type": "audio/basic"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        audio = self.audio_for(body["text"])
        for offset in range(0, len(audio), self.chunk_size):
            if offset:
                await asyncio.sleep(self.chunk_delay)
            if self.fail_after_bytes is not None and offset >= self.fail_after_bytes:
                return cut_off(request, response)
            await response.write(audio[offset : offset + self.chunk_size])
        await response.write_eof()
        return response
