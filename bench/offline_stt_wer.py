"""Word error rate of the offline STT on phone-quality front-desk utterances (printed, not asserted).

Each utterance is synthesised with the offline voice, carried as Twilio's mu-law 8 kHz in 20 ms
frames with silence around it, and transcribed by OfflineSTT. Run: .venv/bin/python bench/offline_stt_wer.py
"""

import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autoshop.settings")

import django

django.setup()

from voice.providers.base import TranscriptReceived  # noqa: E402
from voice.providers.offline_speech import OfflineSTT, OfflineTTS  # noqa: E402

UTTERANCES = [
    "I need an oil change", "oil change on Tuesday at ten please", "Can I come in on Friday at ten",
    "I need to cancel my appointment", "What are your hours on Saturday", "yes", "no thanks",
    "Can I move my appointment", "my brakes are squealing", "how much is a tire rotation",
    "I'd like to book a brake inspection", "tomorrow at two in the afternoon", "can I talk to a person",
    "that works", "thanks bye",
]


def wer(reference: str, hypothesis: str) -> tuple[int, int]:
    ref, hyp = reference.lower().replace("'", "").split(), hypothesis.lower().replace("'", "").split()
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1], len(ref)


async def transcribe(stt: OfflineSTT, audio: bytes) -> str:
    stream = await stt.open_stream()
    silence = b"\xff" * 8000
    await stream.send_audio(silence + audio + silence)
    async for event in stream.events():
        if isinstance(event, TranscriptReceived) and event.is_final:
            await stream.close()
            return event.text
    return ""


async def main() -> None:
    tts, stt = OfflineTTS(), OfflineSTT()
    errors = words = 0
    audio_seconds = decode_seconds = 0.0
    for text in UTTERANCES:
        audio = b"".join([chunk async for chunk in tts.synthesize(text)])
        started = time.perf_counter()
        heard = await transcribe(stt, audio)
        decode_seconds += time.perf_counter() - started
        audio_seconds += len(audio) / 8000 + 2
        e, n = wer(text, heard)
        errors, words = errors + e, words + n
        print(f"WER {e / n:5.0%}  {text!r} -> {heard!r}")
    print(f"overall WER {errors / words:.1%} over {words} words; real-time factor {decode_seconds / audio_seconds:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
