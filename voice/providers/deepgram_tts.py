"""Deepgram Aura text to speech over REST via deepgram-sdk 7, streamed as mu-law 8 kHz for Twilio.
SDK, HTTP and socket errors become ProviderError."""

from collections.abc import AsyncIterator
from contextlib import aclosing

import httpx
from deepgram import AsyncDeepgramClient
from deepgram.core.api_error import ApiError

from voice.providers.base import ProviderError
from voice.providers.deepgram_common import TRANSPORT_ERRORS, deepgram_environment
from voice.providers.tls import async_http


class DeepgramTTS:
    """Aura text to speech over REST, streamed as raw mu-law 8 kHz (what Twilio plays)."""

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        model: str = "aura-asteria-en",
        *,
        timeout: float = 5.0,
        connect_timeout: float = 2.0,
    ) -> None:
        self.model = model
        # Our own httpx client: the timeout bounds the wait for each chunk, so a stalled voice fails fast.
        self._http = async_http(timeout=httpx.Timeout(timeout, connect=connect_timeout))
        self._client = AsyncDeepgramClient(
            api_key=api_key, environment=deepgram_environment(base_url), httpx_client=self._http, max_retries=0
        )

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        audio = self._client.speak.v1.audio.generate(  # an async generator: iterate it, never await it
            text=text, model=self.model, encoding="mulaw", sample_rate=8000, container="none"
        )
        try:
            async with aclosing(audio):
                async for chunk in audio:
                    if chunk:
                        yield chunk
        except ApiError as exc:
            raise ProviderError(f"Deepgram speak failed: HTTP {exc.status_code} {exc.body}") from exc
        except TRANSPORT_ERRORS as exc:
            raise ProviderError(f"Deepgram speak failed: {exc!r}") from exc

    async def aclose(self) -> None:
        """Release pooled HTTP connections (optional; for clean shutdown)."""
        await self._http.aclose()
