"""ElevenLabs text to speech, streamed as mu-law 8 kHz (`output_format=ulaw_8000`, what Twilio plays).

Plain httpx against the documented streaming endpoint rather than the elevenlabs SDK: one POST, no extra
dependency, and any base URL works (for a local peer in tests).
"""

from collections.abc import AsyncIterator

import httpx

from voice.providers.base import ProviderError
from voice.providers.tls import async_http

ELEVENLABS_URL = "https://api.elevenlabs.io"


class ElevenLabsTTS:
    """`POST {base}/v1/text-to-speech/{voice_id}/stream?output_format=ulaw_8000`, yielding audio as it arrives."""

    def __init__(
        self,
        api_key: str,
        base_url: str | None,
        voice_id: str,
        model_id: str,
        *,
        timeout: float = 5.0,
        connect_timeout: float = 2.0,
    ) -> None:
        self.voice_id = voice_id
        self.model_id = model_id
        self._http = async_http(
            base_url=(base_url or ELEVENLABS_URL).rstrip("/"),
            headers={"xi-api-key": api_key},
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
        )

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        try:
            async with self._http.stream(
                "POST",
                f"/v1/text-to-speech/{self.voice_id}/stream",
                params={"output_format": "ulaw_8000"},
                json={"text": text, "model_id": self.model_id},
                headers={"Accept": "audio/basic"},
            ) as response:
                if response.status_code != httpx.codes.OK:
                    await response.aread()
                    raise ProviderError(f"ElevenLabs speak failed: HTTP {response.status_code} {response.text[:300]}")
                async for chunk in response.aiter_bytes():
                    if chunk:
                        yield chunk
        except httpx.HTTPError as exc:
            raise ProviderError(f"ElevenLabs speak failed: {exc!r}") from exc

    async def aclose(self) -> None:
        """Release pooled HTTP connections (optional; for clean shutdown)."""
        await self._http.aclose()
