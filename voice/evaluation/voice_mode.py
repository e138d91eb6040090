"""Voice mode: each scenario phoned in to the real server (`manage.py serve`, see `served`: offline speech-to-text,
the configured brain, offline text-to-speech) as Twilio would, through the signed webhook and the media
stream, the caller's lines rendered to 8 kHz mu-law by the offline voice or an espeak-ng one. The server commits
as on a call, so the scenario's rows are wiped after it is judged: run it only in a throwaway database
(`manage.py eval_agent --voice` makes one)."""

import asyncio
import io
import subprocess
import tempfile
import uuid
import wave
from collections.abc import Callable, Iterable
from pathlib import Path

import time_machine
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.db import connection

from crm.models import CallLog, CallOutcome
from voice.audio import Resampler, pcm16_to_ulaw
from voice.call_record import CallIdentity, CallIntent, CallRecord
from voice.evaluation import judge, served, world
from voice.evaluation.conversation import SILENCE, key_said
from voice.evaluation.runner import Result
from voice.evaluation.scenarios import Scenario, Suite
from voice.evaluation.voice_call import SILENCE as SILENT_FRAME
from voice.evaluation.voice_call import StreamCaller
from voice.turns import TurnConfig

SPEED = 4.0  # the agent's audio "plays" this many times faster than real time (the caller speaks in real time)


async def render(text: str, voice: str = "piper") -> bytes:
    """The caller's line as phone audio (8 kHz mu-law): "piper" is the agent's own offline voice; "espeak:VOICE"
    an espeak-ng voice (e.g. "espeak:en-us", "espeak:en-gb-scotland"), a stranger to the recogniser."""
    if voice.startswith("espeak:"):
        return await asyncio.to_thread(_espeak, text, voice.removeprefix("espeak:"))
    from voice.providers.offline_speech import OfflineTTS

    tts = OfflineTTS()
    try:
        return b"".join([chunk async for chunk in tts.synthesize(text)])
    finally:
        await tts.aclose()


def _espeak(text: str, voice: str) -> bytes:
    found = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, check=True,  # noqa: S603,S607 - a fixed program, the scenario's words as one argument
                           timeout=30)
    with wave.open(io.BytesIO(found.stdout), "rb") as wav:
        pcm = wav.readframes(wav.getnframes())
        rate = wav.getframerate()
    return pcm16_to_ulaw(Resampler(rate, 8000).convert(pcm))


def run_voice_scenario(scenario: Scenario, suite: Suite, caller_voice: str = "piper",
                       logs: Path | None = None) -> Result:
    """Build the scenario's CRM, open the shop (its own server), phone it in, judge what the database and the call
    log show, close the shop, wipe the rows. The server's output goes to `logs` (a temporary folder if None)."""
    result = Result(scenario=scenario, problems=[])
    folder = logs or Path(tempfile.mkdtemp(prefix="eval-voice-"))  # run_voice_suite passes one for the whole run
    with time_machine.travel(suite.now, tick=True):
        try:
            made = world.build(scenario)
            before = world.snapshot()
            call_sid = "CA" + uuid.uuid4().hex
            try:
                log = folder / f"{scenario.name}.log"
                with served.shop_server(now=suite.now, front_desk=scenario.front_desk, log=log,
                                        database=served.database_url(connection.settings_dict)) as port:
                    result.lines = async_to_sync(_call)(scenario, call_sid, caller_voice, port)
            except Exception as exc:  # noqa: BLE001 - a stack that crashes fails its scenario, not the suite
                result.problems.append(f"the call crashed: {type(exc).__name__}: {exc}")
                return result
            result.problems = judge.failures(scenario, made, before, world.snapshot(), _record(call_sid))
        finally:
            call_command("flush", interactive=False, verbosity=0)
    return result


def _record(call_sid: str) -> CallRecord:
    """What the judge reads of the call record, from the call log the server wrote (its record stayed in the
    server's own cache): whether the caller was handed to the front desk."""
    record = CallRecord.new(CallIdentity(call_sid=call_sid))
    if CallLog.objects.filter(call_sid=call_sid, outcome=CallOutcome.TRANSFERRED).exists():
        record.intents.add(CallIntent.TRANSFER)
    return record


async def _call(scenario: Scenario, call_sid: str, caller_voice: str, port: int) -> list[tuple[str, str]]:
    caller = StreamCaller(port, call_sid=call_sid, caller=scenario.caller, attestation=scenario.attestation,
                          auth_token=served.AUTH_TOKEN, public_base_url=served.PUBLIC_BASE_URL,
                          shop_number=served.SHOP_NUMBER, speed=SPEED)
    if not await caller.start():
        raise RuntimeError("the server refused the call")
    try:
        await caller.until_quiet()  # the greeting
        for line in scenario.lines:
            if caller.closed:
                break
            digit = key_said(line)
            if digit is not None:
                await caller.press(digit)
            elif line.strip() == SILENCE:  # as long as the turn-taker waits before asking "Are you still there?"
                await _wall_clock_silence(caller, TurnConfig().silence_prompt_after + 1.0)
            else:
                await caller.say(SILENT_FRAME * 10 + await render(line, caller_voice) + SILENT_FRAME * 40)
            await caller.until_quiet()
    finally:
        await caller.hang_up()
    return await _transcript(call_sid)


async def _wall_clock_silence(caller: StreamCaller, seconds: float) -> None:
    """Silence for `seconds` of the server's clock (real time: the turn-taker times silence by it)."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while not caller.closed and loop.time() < until:
        await caller.say(SILENT_FRAME * 5)
        await asyncio.sleep(0.1 - 0.1 / SPEED)  # frames go out SPEED times too fast; top up to real time


async def _transcript(call_sid: str) -> list[tuple[str, str]]:
    """The call log's transcript, once the finished call has written it."""
    for _ in range(100):
        log = await CallLog.objects.filter(call_sid=call_sid).afirst()
        if log is not None and log.transcript:
            return [(str(t.get("speaker")), str(t.get("text"))) for t in log.transcript]
        await asyncio.sleep(0.05)
    return []


def run_voice_suite(suite: Suite, only: Iterable[str] = (), caller_voice: str = "piper",
                    progress: Callable[[Result], None] | None = None) -> list[Result]:
    """`run_suite` for voice: the scenarios named (by name or category) in `only`, or all. Each server's output
    is kept in one folder for the run, a log per scenario (a crash's message names it)."""
    wanted = set(only)
    results = []
    logs = Path(tempfile.mkdtemp(prefix="eval-voice-"))
    for scenario in suite.scenarios:
        if wanted and scenario.name not in wanted and scenario.category not in wanted:
            continue
        results.append(run_voice_scenario(scenario, suite, caller_voice, logs))
        if progress is not None:
            progress(results[-1])
    return results
