"""What a call leaves in its log survives whatever the caller's words held (PostgreSQL refuses NUL)."""

import pytest

from crm.models import CallLog
from crm.services import call_log_finish

pytestmark = pytest.mark.django_db


def test_a_nul_in_what_was_said_is_dropped_and_the_rest_of_the_transcript_is_kept() -> None:
    transcript = [{"speaker": "caller", "text": "oil\x00 change", "at": "2026-12-01T10:00:00+00:00"},
                  {"speaker": "agent", "text": "Sure.", "at": "2026-12-01T10:00:02+00:00"}]
    call_log_finish(call_sid="CA-nul", transcript=transcript, latency=[], outcome="information")
    log = CallLog.objects.get(call_sid="CA-nul")
    assert [turn["text"] for turn in log.transcript] == ["oil change", "Sure."]
