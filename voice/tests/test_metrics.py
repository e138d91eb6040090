"""What the call path reports to `/metrics` (autoshop.metrics): calls in progress, each stage of a turn's
latency, provider failures and what the call fell back to, STT reconnects and dropped frames. The calls run
on virtual time against fakes; the STT reconnects against the real SDK and a local Deepgram."""

import pytest
from prometheus_client import REGISTRY

from voice.call_script import FILLER
from voice.providers.base import ProviderError
from voice.providers.deepgram import DeepgramSTT
from voice.providers.fallback import FallbackSTT, FallbackTTS
from voice.stream_limits import ProtocolErrors
from voice.tests.fakes import QueueSTT, TimedChat, TimedTTS
from voice.tests.peers import wait_until
from voice.tests.peers.deepgram_server import FakeDeepgram, spoken
from voice.tests.test_session import Call

pytestmark = pytest.mark.django_db(transaction=True)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Moves:
    """Samples read before, so a test asserts by how much each moved."""

    def __init__(self, *samples: tuple[str, dict[str, str]]) -> None:
        self.samples = samples
        self.before = [value(name, **labels) for name, labels in samples]

    def __call__(self) -> list[float]:
        return [round(value(name, **labels) - before, 6) for (name, labels), before in zip(self.samples, self.before,
                                                                                            strict=True)]


@pytest.fixture(autouse=True)
def _shop(settings) -> None:
    settings.FRONT_DESK_NUMBER = "+15550100199"
    settings.MODEL_FILLER_AFTER_SECONDS, settings.MODEL_FIRST_TOKEN_BUDGET_SECONDS = 1.0, 5.0
    settings.MODEL_STREAM_GAP_SECONDS = 3.0


async def test_a_call_is_in_progress_on_the_worker_from_its_start_to_its_stop() -> None:
    moves = Moves(("autoshop_calls_in_progress", {}),
                  ("autoshop_calls_total", {"direction": "inbound", "stream": "new"}),
                  ("autoshop_calls_ended_total", {"outcome": "abandoned"}))
    async with Call():
        assert moves() == [1, 1, 0]
    assert moves() == [0, 1, 1]  # the caller said nothing: abandoned


async def test_each_stage_of_a_turns_latency_is_observed_as_the_call_log_row_has_it() -> None:
    stages = ("stt_final", "llm_first_token", "tts_first_byte", "first_audio", "total")
    counts = Moves(*(("autoshop_turn_latency_seconds_count", {"stage": s}) for s in stages))
    sums = Moves(*(("autoshop_turn_latency_seconds_sum", {"stage": s}) for s in stages))
    chat, tts = TimedChat(reply="Sure.", first_token=0.3), TimedTTS(first_byte=0.15, ms_per_char=4)
    async with Call(chat=chat, tts=tts) as call:
        call.say("Can I come in Tuesday?")
        await call.until(lambda: len(call.session.record.latency) == 1, what="the turn's first audio")
        row = call.session.record.latency[0]
    assert counts() == [1] * 5
    assert sums() == [pytest.approx(row[f"{s}_ms"] / 1000) for s in stages]
    assert sums()[1] == pytest.approx(0.3) and sums()[2] == pytest.approx(0.15)  # the fakes' own delays


async def test_a_hanging_model_counts_a_filler_a_timeout_an_error_and_the_apology() -> None:
    moves = Moves(("autoshop_fillers_total", {}), ("autoshop_model_timeouts_total", {"budget": "first_token"}),
                  ("autoshop_provider_errors_total", {"role": "llm", "provider": "TimedChat"}),
                  ("autoshop_provider_fallbacks_total", {"role": "llm", "to": "apology"}))
    async with Call(chat=TimedChat(first_token=60.0)) as call:
        call.say("Hello?")
        await call.until(lambda: call.session.record.model_failures == 1, what="the model given up")
        assert FILLER in call.tts.texts
    assert moves() == [1, 1, 1, 1]


async def test_a_model_stalling_mid_reply_counts_a_gap_timeout() -> None:
    moves = Moves(("autoshop_model_timeouts_total", {"budget": "gap"}))
    async with Call(chat=TimedChat(reply="Let me see what we have on Tuesday.", tokens_per_second=0.1)) as call:
        call.say("Anything Tuesday?")
        await call.until(lambda: call.session.record.model_failures == 1, what="the model given up")
    assert moves() == [1]


async def test_speech_to_text_failing_mid_call_counts_the_error_and_the_hand_over_to_the_front_desk() -> None:
    moves = Moves(("autoshop_provider_errors_total", {"role": "stt", "provider": "QueueSTT"}),
                  ("autoshop_provider_fallbacks_total", {"role": "stt", "to": "front_desk"}))
    async with Call() as call:
        call.stt.stream.emit(ProviderError("socket gone"))
        await call.until(lambda: moves() == [1, 1], what="the failure counted")


async def test_a_voice_failing_counts_the_next_voice_and_every_voice_failing_the_apology() -> None:
    moves = Moves(("autoshop_provider_errors_total", {"role": "tts", "provider": "TimedTTS"}),
                  ("autoshop_provider_fallbacks_total", {"role": "tts", "to": "next_voice"}),
                  ("autoshop_provider_fallbacks_total", {"role": "tts", "to": "apology"}))
    chain = FallbackTTS([TimedTTS(fail_after=1, ms_per_char=4), TimedTTS(fail_after=2, ms_per_char=4)])
    async with Call(chat=TimedChat(reply="Sure."), tts=chain) as call:  # type: ignore[arg-type]
        call.say("Can I come in Tuesday?")  # the first voice fails: the second says it
        await call.until(lambda: moves() == [1, 1, 0], what="the next voice")
        await call.idle()
        call.say("And Wednesday?")  # the second fails too: nothing left but the apology
        await call.until(lambda: moves() == [2, 1, 1], what="the apology")


async def test_a_speech_engine_that_cannot_start_counts_the_switch_to_the_fallback_engine() -> None:
    class DownSTT:
        async def open_stream(self) -> None:
            raise ProviderError("refused")

    moves = Moves(("autoshop_provider_errors_total", {"role": "stt", "provider": "DownSTT"}),
                  ("autoshop_provider_fallbacks_total", {"role": "stt", "to": "fallback_engine"}))
    fallback = QueueSTT()
    stream = await FallbackSTT(DownSTT(), fallback).open_stream()  # type: ignore[arg-type]
    assert stream.active is fallback.stream and moves() == [1, 1]


def test_dropped_frames_are_counted_by_kind() -> None:
    moves = Moves(*(("autoshop_protocol_frames_dropped_total", {"reason": r}) for r in ("malformed", "out_of_order")))
    errors = ProtocolErrors(limit=10)
    errors.note("malformed: not JSON")
    errors.note("malformed: too deep")
    errors.note("out of order: media before start")
    assert moves() == [2, 1]


async def test_a_dropped_deepgram_socket_counts_a_reconnect_and_its_time() -> None:
    moves = Moves(("autoshop_stt_reconnects_total", {"result": "ok"}), ("autoshop_stt_reconnect_seconds_count", {}))
    async with FakeDeepgram(recognise=True) as dg:
        stream = await DeepgramSTT("test-key", dg.url).open_stream()
        try:
            await stream.send_audio(spoken("hello")[:160])
            dg.drop()
            await dg.wait_for_sessions(2)
            await wait_until(lambda: moves() == [1, 1], 2.0, "the reconnect counted")
        finally:
            await stream.close()
    assert 0 < value("autoshop_stt_reconnect_seconds_sum") < 1.0 * value("autoshop_stt_reconnect_seconds_count")


async def test_a_deepgram_socket_that_cannot_be_reopened_counts_a_failed_reconnect() -> None:
    moves = Moves(("autoshop_stt_reconnects_total", {"result": "failed"}))
    async with FakeDeepgram(recognise=True) as dg:
        stream = await DeepgramSTT("test-key", dg.url, reconnect_backoff=0.01).open_stream()
        try:
            dg.refuse_next(3)
            dg.drop()
            await wait_until(lambda: moves() == [1], 3.0, "the failed reconnect counted")
        finally:
            await stream.close()
    assert moves() == [1]
