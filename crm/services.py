"""Writes with side effects on CRM data."""

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from crm.models import CallDirection, CallLog, CallOutcome


def call_log_start(*, call_sid: str, direction: str = CallDirection.INBOUND, from_number: str = "",
                   to_number: str = "", customer_id: int | None = None) -> CallLog:
    """Record that a call began (idempotent: a reconnecting stream finds the same row)."""
    call, _ = CallLog.objects.get_or_create(
        call_sid=call_sid,
        defaults={"direction": direction, "from_number": from_number, "to_number": to_number,
                  "customer_id": customer_id, "started_at": timezone.now()},
    )
    return call


def call_log_finish(*, call_sid: str, transcript: list[dict[str, Any]], latency: list[dict[str, Any]],
                    outcome: str, ended_at: datetime | None = None, customer_id: int | None = None) -> CallLog:
    """Store what was said, how fast the agent was and how the call ended."""
    with transaction.atomic():
        call = CallLog.objects.select_for_update().get(call_sid=call_sid)
        call.transcript = transcript
        call.latency = latency
        if outcome and (call.outcome == CallOutcome.IN_PROGRESS or outcome != CallOutcome.ABANDONED):
            call.outcome = outcome
        if customer_id and not call.customer_id:
            call.customer_id = customer_id
        if call.duration is None:
            call.duration = max((ended_at or timezone.now()) - call.started_at, timedelta(0))
        call.save()
    return call


def call_log_status(*, call_sid: str, status: str, duration_seconds: int | None) -> CallLog | None:
    """Apply Twilio's call status callback: a finished call gets its billed duration and an outcome."""
    with transaction.atomic():
        call = CallLog.objects.select_for_update().filter(call_sid=call_sid).first()
        if call is None:
            return None
        if duration_seconds is not None:
            call.duration = timedelta(seconds=duration_seconds)
        if call.outcome == CallOutcome.IN_PROGRESS and status in {"completed", "busy", "no-answer", "canceled"}:
            call.outcome = CallOutcome.ABANDONED if status == "completed" else CallOutcome.FAILED
        if status == "failed":
            call.outcome = CallOutcome.FAILED
        call.save()
    return call
