"""Word error rate of the offline STT on phone-quality caller utterances (printed, not asserted).

Each utterance is spoken by our own offline voice (Piper) and by voices that are not ours (espeak-ng's
US, Scottish, Caribbean and a higher-pitched US voice at other speeds), carried as Twilio's mu-law
8 kHz with a little line noise and hum (fixed seed) in 20 ms frames with silence around it, and
transcribed by OfflineSTT. WER is printed per utterance, per voice and per group (the front desk's
phrases, cars from the seeded CRM's catalogue, days and times, dictated VINs and plates, names, and free
speech the grammar does not cover).
Run: .venv/bin/python bench/offline_stt_wer.py [--quick] (--quick: three utterances a group).
"""

import argparse
import asyncio
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from array import array
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autoshop.settings")

import django

django.setup()

from voice.audio import Resampler, pcm16_to_ulaw, ulaw_to_pcm16  # noqa: E402
from voice.providers.base import TranscriptReceived  # noqa: E402
from voice.providers.offline_speech import OfflineSTTStream, OfflineTTS, _Decoder  # noqa: E402

GROUPS = {  # what callers say, written as a recogniser spells it (words, not digits)
    "desk": [
        "I need an oil change", "oil change on Tuesday at ten please", "Can I come in on Friday at ten",
        "I need to cancel my appointment", "What are your hours on Saturday", "yes", "no thanks",
        "Can I move my appointment", "my brakes are squealing", "how much is a tire rotation",
        "I'd like to book a brake inspection", "tomorrow at two in the afternoon", "can I talk to a person",
        "that works", "thanks bye",
    ],
    "car": [
        "it's a twenty nineteen honda civic", "the nissan leaf", "my ford f one fifty",
        "a two thousand nine toyota camry", "twenty fifteen chevy silverado", "it's a jeep grand cherokee",
        "a twenty twenty one subaru outback", "the hyundai elantra", "my toyota corolla", "the nissan altima",
        "a twenty eighteen ford escape", "twenty twelve honda accord", "the kia sorento", "my toyota rav four",
    ],
    "when": [
        "the day after tomorrow", "half past ten", "quarter to four", "next friday", "this saturday at noon",
        "tomorrow at quarter past nine", "the day after tomorrow at half past two", "next tuesday at three thirty",
    ],
    "dictation": [
        "one h g c m eight two six", "hotel golf double seven", "seven alpha bravo one two three",
        "oh four double five", "charlie delta echo nine", "my plate is x-ray yankee four two one",
    ],
    "name": [
        "my name is john smith", "this is maria garcia", "it's david johnson", "my name is sarah miller",
    ],
    "free": [  # outside the grammar: what it costs when the grammar wins where it should not
        "my check engine light came on", "the car makes a grinding noise when i stop", "do you have a loaner car",
        "my husband dropped it off yesterday",
    ],
}
ESPEAK_VOICES = [  # (label, espeak-ng voice, words a minute, pitch 0-99)
    ("espeak en-us", "en-us", 160, 45), ("espeak en-us f3", "en-us+f3", 145, 60),
    ("espeak en-gb-scotland", "en-gb-scotland", 170, 40), ("espeak en-029", "en-029", 150, 50),
]
NOISE_RMS, HUM_AMPLITUDE = 40, 60  # below the speech detector's threshold (300), like a quiet phone line


def wer(reference: str, hypothesis: str) -> tuple[int, int]:
    ref, hyp = (s.lower().replace("'", "").replace("-", " ").split() for s in (reference, hypothesis))
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1], len(ref)


def line_noise(pcm8k: bytes, seed: int) -> bytes:
    """White noise and a 60 Hz hum added to 8 kHz PCM16, from a fixed seed."""
    rng = random.Random(seed)
    samples = array("h", pcm8k)
    for i, value in enumerate(samples):
        noise = rng.gauss(0, NOISE_RMS) + HUM_AMPLITUDE * math.sin(2 * math.pi * 60 * i / 8000)
        samples[i] = max(-32768, min(32767, int(value + noise)))
    return samples.tobytes()


def espeak_ulaw(text: str, voice: str, speed: int, pitch: int) -> bytes:
    """espeak-ng's rendering of the text, resampled to 8 kHz mu-law."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as out:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", out.name, text],
                       check=True, capture_output=True)
        with wave.open(out.name) as wav:
            rate, pcm = wav.getframerate(), wav.readframes(wav.getnframes())
    return pcm16_to_ulaw(Resampler(rate, 8000).convert(pcm))


async def piper_ulaw(tts: OfflineTTS, text: str) -> bytes:
    return b"".join([chunk async for chunk in tts.synthesize(text)])


async def transcribe(decoder: _Decoder, audio: bytes) -> str:
    """What the offline STT stream hears of the audio, sent in 20 ms frames with a second of silence around."""
    stream = OfflineSTTStream(decoder)
    silence = b"\xff" * 8000
    carried = silence + audio + silence
    for offset in range(0, len(carried), 160):
        await stream.send_audio(carried[offset:offset + 160])
    async for event in stream.events():
        if isinstance(event, TranscriptReceived) and event.is_final:
            await stream.close()
            return event.text
    return ""


async def main(quick: bool) -> None:
    tts, decoder = OfflineTTS(), _Decoder()
    voices = ["piper joe (ours)"]
    if shutil.which("espeak-ng"):
        voices += [label for label, *_ in ESPEAK_VOICES]
    else:
        print("espeak-ng not installed: our own voice only (apt-get install espeak-ng)")
    groups = {name: said[:3] if quick else said for name, said in GROUPS.items()}
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    audio_seconds = decode_seconds = 0.0
    for v, voice in enumerate(voices):
        for group, utterances in groups.items():
            for u, text in enumerate(utterances):
                if v == 0:
                    audio = await piper_ulaw(tts, text)
                else:
                    _, name, speed, pitch = ESPEAK_VOICES[v - 1]
                    audio = espeak_ulaw(text, name, speed, pitch)
                audio = pcm16_to_ulaw(line_noise(ulaw_to_pcm16(audio), seed=1000 * v + u))
                started = time.perf_counter()
                heard = await transcribe(decoder, audio)
                decode_seconds += time.perf_counter() - started
                audio_seconds += len(audio) / 8000 + 2
                e, n = wer(text, heard)
                for key in ((voice, group), (voice, "*"), ("*", group), ("*", "*")):
                    totals[key][0] += e
                    totals[key][1] += n
                print(f"{voice:22} {group:9} WER {e / n:5.0%}  {text!r} -> {heard!r}", flush=True)
    print()
    print(f"{'WER':22} " + " ".join(f"{g:>9}" for g in [*groups, "all"]))
    for voice in [*voices, "*"]:
        cells = [totals[(voice, g)] for g in [*groups, "*"]]
        print(f"{voice if voice != '*' else 'all voices':22} " + " ".join(f"{e / n:9.1%}" for e, n in cells))
    e, n = totals[("*", "*")]
    print(f"overall WER {e / n:.1%} over {n} words; real-time factor {decode_seconds / audio_seconds:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three utterances a group (about a minute)")
    asyncio.run(main(parser.parse_args().quick))
