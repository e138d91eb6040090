"""Reminder calls: pick tomorrow's appointments, claim each once, dial within safe mode, pace."""

import logging
import time as clock
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from twilio.base.exceptions import TwilioException

from crm.models import ACTIVE_STATUSES, Appointment, CallOutcome
from crm.phones import mask_phone, try_normalize_phone
from reminders.models import ReminderAttempt, ReminderOutcome
from scheduling.shop import shop_timezone
from voice.security import public_url
from voice.telephony import twilio_client

logger = logging.getLogger(__name__)


@dataclass
class ReminderRun:
    """What one run did."""

    day: date
    due: int = 0
    dialled: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    already_claimed: int = 0
    dry_run: bool = False


def tomorrow() -> date:
    return timezone.now().astimezone(shop_timezone()).date() + timedelta(days=1)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """Midnight to midnight of a shop day (23 or 25 hours long across DST changes)."""
    tz = shop_timezone()
    return datetime.combine(day, time.min, tzinfo=tz), datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)


def reminders_due(day: date) -> QuerySet[Appointment]:
    """Appointments on `day` (shop time), scheduled or confirmed, with no reminder claimed for that day."""
    start, end = day_bounds(day)
    return (Appointment.objects.select_related("customer")
            .filter(scheduled_at__gte=start, scheduled_at__lt=end, status__in=ACTIVE_STATUSES)
            .exclude(reminder_attempts__reminder_date=day)
            .order_by("scheduled_at", "pk"))


def reminder_claim(*, appointment: Appointment, day: date) -> ReminderAttempt | None:
    """Claim the reminder for (appointment, day) before dialling; None if someone already has it."""
    try:
        with transaction.atomic():
            return ReminderAttempt.objects.create(appointment=appointment, reminder_date=day,
                                                  to_number=appointment.customer.phone)
    except IntegrityError:
        return None


def number_allowed(phone: str) -> bool:
    """Safe mode (on unless REMINDER_SAFE_MODE is explicitly false) dials only allow-listed numbers."""
    if not settings.REMINDER_SAFE_MODE:
        return True
    allowed = {try_normalize_phone(n) for n in settings.REMINDER_ALLOWED_NUMBERS}
    return phone in allowed


def reminder_dial(*, attempt: ReminderAttempt, client: Any) -> ReminderAttempt:
    """Place the call for a claimed attempt (or record why not). Never raises for Twilio errors."""
    if not number_allowed(attempt.to_number):
        logger.info("reminder for appointment %s to %s skipped: safe mode", attempt.appointment_id,
                    mask_phone(attempt.to_number))
        return _finish(attempt, ReminderOutcome.SKIPPED_SAFE_MODE, "number not in REMINDER_ALLOWED_NUMBERS")
    if client is None or not settings.TWILIO_PHONE_NUMBER:
        return _finish(attempt, ReminderOutcome.FAILED, "Twilio is not configured")
    base = f"/twilio/reminder/{attempt.pk}"
    try:
        call = client.calls.create(
            to=attempt.to_number, from_=settings.TWILIO_PHONE_NUMBER, url=public_url(base),
            status_callback=public_url(f"{base}/status"),
            status_callback_event=["initiated", "ringing", "answered", "completed"],
            machine_detection="DetectMessageEnd", async_amd="true", async_amd_status_callback=public_url(f"{base}/amd"),
        )
    except TwilioException as exc:
        logger.warning("reminder call for appointment %s failed: %s", attempt.appointment_id, type(exc).__name__)
        return _finish(attempt, ReminderOutcome.FAILED, str(getattr(exc, "msg", exc))[:255])
    attempt.call_sid = call.sid
    attempt.dialled_at = timezone.now()
    attempt.outcome = ReminderOutcome.DIALLING
    attempt.save(update_fields=["call_sid", "dialled_at", "outcome", "updated_at"])
    logger.info("reminder call %s placed to %s", call.sid, mask_phone(attempt.to_number))
    return attempt


def _finish(attempt: ReminderAttempt, outcome: str, detail: str = "") -> ReminderAttempt:
    attempt.outcome = outcome
    attempt.detail = detail[:255]
    attempt.save(update_fields=["outcome", "detail", "updated_at"])
    return attempt


def send_reminders(*, day: date | None = None, dry_run: bool = False, limit: int | None = None,
                   pace_seconds: float | None = None, client: Any = None,
                   sleep: Callable[[float], None] = clock.sleep) -> ReminderRun:
    """Remind everyone booked on `day` (default tomorrow), each at most once, about one call a second."""
    day = day or tomorrow()
    pace = settings.REMINDER_PACE_SECONDS if pace_seconds is None else pace_seconds
    due = list(reminders_due(day)[:limit] if limit else reminders_due(day))
    run = ReminderRun(day=day, due=len(due), dry_run=dry_run)
    if dry_run:
        return run
    client = client or twilio_client()
    placed = 0
    for appointment in due:
        attempt = reminder_claim(appointment=appointment, day=day)
        if attempt is None:
            run.already_claimed += 1
            continue
        if placed and number_allowed(attempt.to_number):
            sleep(pace)  # Twilio's default rate is about one new call per second
        attempt = reminder_dial(attempt=attempt, client=client)
        if attempt.outcome == ReminderOutcome.DIALLING:
            placed += 1
            run.dialled.append(appointment.pk)
        elif attempt.outcome == ReminderOutcome.SKIPPED_SAFE_MODE:
            run.skipped.append(appointment.pk)
        else:
            run.failed.append(appointment.pk)
    return run


# --- what Twilio tells us afterwards ---------------------------------------------------------------

CALL_STATUS_OUTCOMES = {"no-answer": ReminderOutcome.NO_ANSWER, "busy": ReminderOutcome.BUSY,
                        "failed": ReminderOutcome.FAILED, "canceled": ReminderOutcome.FAILED}
CALL_LOG_OUTCOMES = {CallOutcome.CONFIRMED: ReminderOutcome.CONFIRMED,
                     CallOutcome.RESCHEDULED: ReminderOutcome.RESCHEDULED,
                     CallOutcome.CANCELLED: ReminderOutcome.CANCELLED}
MACHINE = {"machine_end_beep", "machine_end_silence", "machine_end_other"}


def reminder_call_status(*, attempt: ReminderAttempt, status: str) -> ReminderAttempt:
    """Twilio's status callback: a call that never connected, or how the conversation ended."""
    from crm.models import CallLog

    if status in CALL_STATUS_OUTCOMES and attempt.outcome in (ReminderOutcome.DIALLING, ReminderOutcome.PENDING):
        return _finish(attempt, CALL_STATUS_OUTCOMES[status], f"Twilio: {status}")
    if status == "completed" and attempt.outcome in (ReminderOutcome.DIALLING, ReminderOutcome.ANSWERED):
        log = CallLog.objects.filter(call_sid=attempt.call_sid).only("outcome").first()
        outcome = CALL_LOG_OUTCOMES.get(log.outcome if log else "", ReminderOutcome.ANSWERED)
        return _finish(attempt, outcome)
    return attempt


def reminder_machine_detected(*, attempt: ReminderAttempt, answered_by: str, client: Any = None) -> ReminderAttempt:
    """Async AMD verdict. A machine (after its beep): replace the call with a short voicemail."""
    attempt.answered_by = answered_by[:32]
    attempt.save(update_fields=["answered_by", "updated_at"])
    if answered_by == "human":
        if attempt.outcome == ReminderOutcome.DIALLING:
            _finish(attempt, ReminderOutcome.ANSWERED)
        return attempt
    if answered_by not in MACHINE or attempt.outcome == ReminderOutcome.VOICEMAIL:
        return attempt
    client = client or twilio_client()
    try:
        client.calls(attempt.call_sid).update(twiml=voicemail_twiml(attempt.appointment))
    except TwilioException as exc:
        return _finish(attempt, ReminderOutcome.FAILED, f"voicemail update failed: {type(exc).__name__}")
    return _finish(attempt, ReminderOutcome.VOICEMAIL)


def voicemail_twiml(appointment: Appointment) -> str:
    from twilio.twiml.voice_response import VoiceResponse

    from voice.agent.speech import spoken_time

    name = appointment.customer.name.split(" ")[0] if appointment.customer.name else "there"
    digits = " ".join(settings.SHOP_PHONE.removeprefix("+1"))
    response = VoiceResponse()
    response.say(f"Hi {name}, this is {settings.SHOP_NAME} reminding you of your "
                 f"{appointment.get_service_type_display().lower()} on {spoken_time(appointment.scheduled_at)}. "
                 f"To change it, call us at {digits}. Thank you, goodbye.")
    response.hangup()
    return str(response)
