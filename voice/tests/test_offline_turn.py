"""How the offline brain reads a conversation: tool results with their calls, the call's facts, its notes."""

import json
from datetime import date

from voice.providers.base import ChatContext
from voice.providers.offline_turn import Pending, Turn

TODAY = date(2026, 11, 23)


def _called(call_id: str, name: str, args: dict, result: object) -> list[dict]:
    return [{"role": "assistant", "content": None, "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}]},
            {"role": "tool", "tool_call_id": call_id, "content": result if isinstance(result, str) else
             json.dumps(result)}]


def test_each_tool_result_is_read_with_the_arguments_of_its_call() -> None:
    messages = [{"role": "user", "content": "oil change tomorrow"},
                *_called("c1", "check_availability", {"service": "oil_change", "date": "2026-11-24"},
                         {"service": "Oil change", "days": []}),
                *_called("c2", "list_vehicles", {}, "not json")]
    turn = Turn(messages, TODAY, ChatContext())
    assert [(r.name, r.args) for r in turn.tool_results] == [
        ("check_availability", {"service": "oil_change", "date": "2026-11-24"}), ("list_vehicles", {})]
    assert turn.tool_results[1].result == {} and turn.last_tool == ("list_vehicles", {})


def test_the_call_facts_and_the_pending_question_come_from_the_context() -> None:
    context = ChatContext(reminder={"appointment_id": "12"}, services={"ac_service": "Climate control"},
                          notes={"pending": "confirm_cancel"})
    turn = Turn([{"role": "user", "content": "yes"}], TODAY, context)
    assert turn.reminder_id == 12 and turn.pending is Pending.CONFIRM_CANCEL
    assert turn.service_code("climate control") == "ac_service" and turn.service_code("Oil change") == "oil_change"


def test_unknown_notes_and_a_reminder_without_an_id_read_as_nothing() -> None:
    context = ChatContext(reminder={"appointment_id": True}, notes={"pending": "guess"})
    turn = Turn([{"role": "user", "content": "yes"}], TODAY, context)
    assert turn.reminder_id is None and turn.pending is None
