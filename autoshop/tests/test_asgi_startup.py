"""The web process loads what a call needs before the first call, then freezes it out of the collector."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import gc, json, sys
import autoshop.asgi
from voice.providers import offline_speech
from voice.consumers import CALL_PHRASES, PHRASES
print(json.dumps({"modules": sorted(m for m in ("openai", "deepgram", "piper", "redis") if m in sys.modules),
                  "offline_voice_loaded": offline_speech._voice is not None,
                  "phrases_in_offline_voice": sum(PHRASES.cached(offline_speech.OfflineTTS(), text) is not None
                                                  for text in CALL_PHRASES),
                  "fixed_phrases": len(CALL_PHRASES),
                  "tool_fillers": "Let me check the calendar." in CALL_PHRASES,
                  "frozen": gc.get_freeze_count()}))
"""


def _start(**providers: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_PROVIDER") and not k.startswith("DJANGO_") and k != "REDIS_URL"}
    result = subprocess.run(  # noqa: S603 - our own ASGI module in a fresh interpreter
        [sys.executable, "-W", "ignore", "-c", PROBE], cwd=ROOT, env={**env, **providers}, capture_output=True,
        text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_vendor_sdks_are_imported_at_start_not_inside_the_first_call() -> None:
    started = _start(STT_PROVIDER="deepgram", LLM_PROVIDER="openai", TTS_PROVIDER="deepgram",
                     STT_FALLBACK="none", TTS_FALLBACKS="none")
    assert started["modules"] == ["deepgram", "openai"]
    assert not started["offline_voice_loaded"]  # nothing loaded that is not configured
    assert started["frozen"] > 10_000  # Django and the SDKs are out of the collector's full passes


def test_the_offline_voice_is_loaded_at_start_when_it_speaks() -> None:
    started = _start(STT_PROVIDER="offline", LLM_PROVIDER="offline", TTS_PROVIDER="offline")
    assert started["offline_voice_loaded"] and "openai" not in started["modules"]


def test_the_fixed_phrases_are_pre_rendered_at_start_in_the_fallback_voice_too() -> None:
    # Deepgram is the voice but is down (port 9 answers nothing): the offline voice behind it still gets them.
    started = _start(STT_PROVIDER="offline", LLM_PROVIDER="offline", TTS_PROVIDER="deepgram",
                     DEEPGRAM_API_KEY="dg-key", DEEPGRAM_URL="http://127.0.0.1:9", TTS_FALLBACKS="offline")
    assert started["offline_voice_loaded"]
    assert started["phrases_in_offline_voice"] == started["fixed_phrases"]  # the apology among them
    assert started["tool_fillers"]  # and "Let me check the calendar.", said while a slow tool runs


def test_the_redis_client_is_built_at_start_without_connecting() -> None:
    # Port 9 answers nothing: building the client must not touch the network, or a Redis restart
    # would keep the web process from starting.
    started = _start(STT_PROVIDER="offline", LLM_PROVIDER="offline", TTS_PROVIDER="offline",
                     REDIS_URL="redis://127.0.0.1:9/0")
    assert "redis" in started["modules"]
