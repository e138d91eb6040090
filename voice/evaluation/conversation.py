"""A scenario's call as text, through the path a phone call takes: the greeting, `model_reply` with the shop's
real tools per caller line, the script's answers to its own offers (a message taken really is saved), the
keypad as the call script maps it, and the silence prompts and hang-up the turn-taker would give."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async

from crm.services import callback_request_create
from voice import call_script as script
from voice import fallback
from voice.agent.deadlines import ModelTimings
from voice.agent.shop_tools import registry
from voice.agent.turn import model_reply
from voice.call_record import CallIdentity, CallIntent, CallRecord
from voice.providers.base import ChatModel
from voice.turns import TurnConfig

SILENCE = "(silence)"


@dataclass(slots=True)
class Call:
    """The finished call: its record and what was said, one (speaker, words) pair per line."""

    record: CallRecord
    lines: list[tuple[str, str]] = field(default_factory=list)


def key_said(line: str) -> str | None:
    """The digit of a key-press line such as "[1]", else None."""
    inner = line.strip()
    if len(inner) == 3 and inner[0] == "[" and inner[2] == "]" and inner[1] in "0123456789*#":
        return inner[1]
    return None


async def converse(*, chat: ChatModel, caller: str, customer: dict[str, Any] | None, attestation: str,
                   lines: tuple[str, ...], call_sid: str,
                   timings: Callable[[], ModelTimings] = ModelTimings.from_settings) -> Call:
    """Say `lines` to the agent one turn at a time, as the caller `caller`, until they run out or the agent
    ends the call."""
    record = CallRecord.new(CallIdentity(call_sid=call_sid, caller=caller, customer=customer,
                                         attestation=attestation))
    call = Call(record=record)
    _agent(call, script.greeting(record.identity))
    silent_prompts = 0
    for line in lines:
        if record.ended:
            break
        if line.strip() == SILENCE:
            call.lines.append(("caller", SILENCE))
            silent_prompts += 1
            if silent_prompts > TurnConfig().max_silence_prompts:
                record.note(intent=CallIntent.END)
                _agent(call, script.GOODBYE_SILENT)
            else:
                _agent(call, script.STILL_THERE)
            continue
        silent_prompts = 0
        said = _words(call, line)
        if said is None:
            continue
        record.history.append({"role": "user", "content": said})
        _agent(call, await _reply(call, chat, said, timings))
    return call


def _words(call: Call, line: str) -> str | None:
    """What the agent is told for `line`: the words, or what a key means on this call (None: nothing)."""
    digit = key_said(line)
    if digit is None:
        call.lines.append(("caller", line))
        call.record.add_turn("caller", line)
        return line
    call.lines.append(("caller", f"[pressed {digit}]"))
    call.record.add_turn("caller", f"[pressed {digit}]")
    event = script.key_pressed(digit, call.record.identity)
    return None if event is None else event.said


async def _reply(call: Call, chat: ChatModel, said: str, timings: Callable[[], ModelTimings]) -> str:
    record = call.record
    scripted = fallback.answer(record, said)  # a pending offer's answer, or a model given up on (as on a call)
    if scripted is not None:
        if scripted.message is not None:
            try:
                await sync_to_async(callback_request_create)(call_sid=record.call_sid, phone=record.identity.caller
                                                             or "", message=scripted.message,
                                                             customer_id=record.facts.customer_id)
            except Exception:  # noqa: BLE001 - as on a call: the caller hears it failed, the judge sees no row
                return fallback.message_saved_failed(record)
        return scripted.text

    async def filler(text: str) -> None:
        call.lines.append(("agent", text))

    return "".join([delta async for delta in model_reply(
        chat=chat, tools=registry, record=record, apology=lambda: fallback.offer(record), on_filler=filler,
        timings=timings(), filler=script.FILLER)])


def _agent(call: Call, text: str) -> None:
    call.record.history.append({"role": "assistant", "content": text})
    call.record.add_turn("agent", text)
    call.lines.append(("agent", text))

