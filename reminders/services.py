"""Reminder calls: claim each appointment's reminder once, dial within safe mode, pace, and follow
what Twilio reports afterwards (status, answering machine, how the conversation ended)."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from requests import RequestException
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.twiml.voice_response import VoiceResponse

from autoshop import metrics
from autoshop.env_rules import fail_safe_flag
from crm.models import Appointment, CallLog, CallOutcome
from crm.phones import mask_phone, try_normalize_phone
from reminders.events import reminder_unanswered
from reminders.models import ReminderAttempt, ReminderOutcome
from reminders.selectors import reminders_due, shop_tomorrow
from scheduling.spoken import spoken_time
from telephony.rest import twilio_client, update_call
from telephony.signatures import public_url

__all__ = ["ReminderRun", "number_allowed", "reminder_call_status", "reminder_claim", "reminder_dial",
           "reminder_follow_call_log", "reminder_machine_detected", "reminders_due", "safe_mode_on", "send_reminders",
           "voicemail_twiml"]

logger = logging.getLogger(__name__)

STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]


@dataclass
class ReminderRun:
    """What one run did (or, on a dry run, would do): appointment ids per result."""

    day: date
    dry_run: bool = False
    due: list[int] = field(default_factory=list)
    dialled: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    already_claimed: list[int] = field(default_factory=list)


def reminder_claim(*, appointment: Appointment, day: date) -> ReminderAttempt | None:
    """Claim the reminder for (appointment, day) before anyone dials: the unique constraint lets
    exactly one run, worker or staff click win; everyone else gets None."""
    try:
        with transaction.atomic():
            return ReminderAttempt.objects.create(appointment=appointment, reminder_date=day,
                                                  to_number=appointment.customer.phone)
    except IntegrityError:
        return None


def allowed_numbers() -> set[str]:
    """REMINDER_ALLOWED_NUMBERS (a list, or one comma-separated string) in E.164."""
    raw = getattr(settings, "REMINDER_ALLOWED_NUMBERS", [])
    items = raw.split(",") if isinstance(raw, str) else raw
    return {phone for item in items if (phone := try_normalize_phone(str(item).strip()))}


def safe_mode_on() -> bool:
    """Safe mode is on unless REMINDER_SAFE_MODE explicitly says no: False, or a text such as "false",
    "0", "no" or "off". Missing, empty or misspelt keeps it on (it fails closed, never open)."""
    value = getattr(settings, "REMINDER_SAFE_MODE", True)
    if isinstance(value, str):
        return fail_safe_flag(value)
    return not (value is False or value == 0)


def number_allowed(phone: str) -> bool:
    """Safe mode dials only the allowlist; with it off, anyone."""
    if not safe_mode_on():
        return True
    return (try_normalize_phone(phone) or phone) in allowed_numbers()


def reminder_dial(*, attempt: ReminderAttempt, client: Any) -> ReminderAttempt:
    """Place the call for a claimed attempt, or record why not. Twilio and network errors mark the
    attempt failed (it is not retried: the call may have gone out); they never raise."""
    if not number_allowed(attempt.to_number):
        logger.info("reminder for appointment %s to %s skipped: safe mode", attempt.appointment_id,
                    mask_phone(attempt.to_number))
        return _record(attempt, ReminderOutcome.SKIPPED_SAFE_MODE, "number not in REMINDER_ALLOWED_NUMBERS")
    from_number = getattr(settings, "TWILIO_PHONE_NUMBER", "")
    if client is None or not from_number:
        return _record(attempt, ReminderOutcome.FAILED, "Twilio is not configured (TWILIO_* settings)")
    base = f"/twilio/reminder/{attempt.pk}"
    try:
        call = client.calls.create(
            to=attempt.to_number, from_=from_number, url=public_url(base),
            status_callback=public_url(f"{base}/status"), status_callback_event=STATUS_EVENTS,
            machine_detection="DetectMessageEnd", async_amd="true", async_amd_status_callback=public_url(f"{base}/amd"),
        )
    except TwilioRestException as exc:
        logger.warning("reminder call for appointment %s to %s refused by Twilio: %s %s", attempt.appointment_id,
                       mask_phone(attempt.to_number), exc.status, exc.code)
        return _record(attempt, ReminderOutcome.FAILED, f"Twilio {exc.code or exc.status}: {exc.msg}")
    except (TwilioException, RequestException) as exc:
        logger.warning("reminder call for appointment %s to %s failed: %s", attempt.appointment_id,
                       mask_phone(attempt.to_number), type(exc).__name__)
        return _record(attempt, ReminderOutcome.FAILED, f"{type(exc).__name__}: {exc}")
    now = timezone.now()
    ReminderAttempt.objects.filter(pk=attempt.pk).update(call_sid=call.sid, dialled_at=now, updated_at=now)
    # Only a still-pending attempt becomes "dialling": a quick callback may already have said more.
    _advance(attempt, ReminderOutcome.DIALLING, only_from=(ReminderOutcome.PENDING,))
    logger.info("reminder call %s for appointment %s placed to %s", call.sid, attempt.appointment_id,
                mask_phone(attempt.to_number))
    return attempt


def _record(attempt: ReminderAttempt, outcome: str, detail: str = "") -> ReminderAttempt:
    attempt.outcome = outcome
    attempt.detail = detail[:255]
    attempt.save(update_fields=["outcome", "detail", "updated_at"])
    metrics.reminder_outcome(outcome)
    return attempt


def send_reminders(*, day: date | None = None, dry_run: bool = False, limit: int | None = None,
                   pace_seconds: float | None = None, client: Any = None,
                   sleep: Callable[[float], None] = time.sleep) -> ReminderRun:
    """Remind everyone booked on `day` (default: tomorrow, shop time), each at most once per day,
    one new call per `pace_seconds` (default REMINDER_PACE_SECONDS). A dry run claims and dials nothing."""
    day = day or shop_tomorrow()
    pace = float(getattr(settings, "REMINDER_PACE_SECONDS", 1.0) if pace_seconds is None else pace_seconds)
    due = list(reminders_due(day)[:limit] if limit else reminders_due(day))
    run = ReminderRun(day=day, dry_run=dry_run, due=[appointment.pk for appointment in due])
    if dry_run:
        return run
    client = client if client is not None else twilio_client()
    asked_twilio = False
    for appointment in due:
        will_dial = client is not None and number_allowed(appointment.customer.phone)
        if will_dial and asked_twilio and pace > 0:
            sleep(pace)  # Twilio queues more than about one new call a second per number
        attempt = reminder_claim(appointment=appointment, day=day)  # claimed just before the dial
        if attempt is None:
            run.already_claimed.append(appointment.pk)
            continue
        asked_twilio = asked_twilio or will_dial
        attempt = reminder_dial(attempt=attempt, client=client)
        if attempt.outcome == ReminderOutcome.SKIPPED_SAFE_MODE:
            run.skipped.append(appointment.pk)
        elif attempt.outcome == ReminderOutcome.FAILED:
            run.failed.append(appointment.pk)
        else:
            run.dialled.append(appointment.pk)
    logger.info("reminders for %s: %d due, %d dialled, %d skipped (safe mode), %d failed, %d already claimed",
                day, len(run.due), len(run.dialled), len(run.skipped), len(run.failed), len(run.already_claimed))
    return run


# --- what Twilio (and the conversation) tell us afterwards --------------------------------------

NOT_CONNECTED = {"no-answer": ReminderOutcome.NO_ANSWER, "busy": ReminderOutcome.BUSY,
                 "failed": ReminderOutcome.FAILED, "canceled": ReminderOutcome.FAILED}
CONVERSATION_OUTCOMES: dict[str, str] = {CallOutcome.CONFIRMED: ReminderOutcome.CONFIRMED,
                         CallOutcome.RESCHEDULED: ReminderOutcome.RESCHEDULED,
                         CallOutcome.CANCELLED: ReminderOutcome.CANCELLED}
MACHINE = frozenset({"machine_end_beep", "machine_end_silence", "machine_end_other"})
LIVE = (ReminderOutcome.PENDING, ReminderOutcome.DIALLING)
REACHED_NO_ONE = frozenset({ReminderOutcome.NO_ANSWER, ReminderOutcome.BUSY, ReminderOutcome.VOICEMAIL})


def _advance(attempt: ReminderAttempt, outcome: str, *, only_from: tuple[str, ...], detail: str = "") -> bool:
    """Move the attempt to `outcome` if it is still in one of `only_from` (compare-and-set, so
    duplicate or concurrent callbacks act once). True if this call made the change."""
    fields: dict[str, Any] = {"outcome": outcome, "updated_at": timezone.now()}
    if detail:
        fields["detail"] = detail[:255]
    changed = ReminderAttempt.objects.filter(pk=attempt.pk, outcome__in=only_from).update(**fields) == 1
    if changed:
        metrics.reminder_outcome(outcome)
        if outcome in REACHED_NO_ONE:  # once per attempt: the compare-and-set above changed it
            transaction.on_commit(partial(reminder_unanswered.send, sender=ReminderAttempt, attempt_id=attempt.pk,
                                          appointment_id=attempt.appointment_id, outcome=outcome), robust=True)
    attempt.refresh_from_db()
    return changed


def reminder_call_status(*, attempt: ReminderAttempt, status: str) -> ReminderAttempt:
    """Twilio's status callback: a call that never connected, or one that was picked up."""
    if status in NOT_CONNECTED:
        _advance(attempt, NOT_CONNECTED[status], only_from=LIVE, detail=f"Twilio call status: {status}")
    elif status in ("in-progress", "completed"):
        _advance(attempt, ReminderOutcome.ANSWERED, only_from=LIVE)
        if status == "completed" and attempt.call_sid:
            log = CallLog.objects.filter(call_sid=attempt.call_sid).first()
            if log is not None:
                reminder_follow_call_log(call_log=log)
                attempt.refresh_from_db()
    return attempt


def reminder_follow_call_log(*, call_log: CallLog) -> None:
    """The conversation's result (confirmed / rescheduled / cancelled) becomes the reminder's,
    whichever arrives first: Twilio's status callback or the agent's call log."""
    outcome = CONVERSATION_OUTCOMES.get(call_log.outcome)
    if outcome is None or not call_log.call_sid:
        return
    changed = ReminderAttempt.objects.filter(call_sid=call_log.call_sid,
                                             outcome__in=(*LIVE, ReminderOutcome.ANSWERED)).update(
        outcome=outcome, updated_at=timezone.now())
    metrics.reminder_outcome(outcome, changed)


def reminder_machine_detected(*, attempt: ReminderAttempt, answered_by: str, client: Any = None) -> ReminderAttempt:
    """Async AMD verdict. A person (or fax/unknown): answered. A machine, after its greeting:
    replace the live call with a short voicemail, once however often Twilio repeats itself."""
    if answered_by and not attempt.answered_by:
        ReminderAttempt.objects.filter(pk=attempt.pk, answered_by="").update(answered_by=answered_by[:32])
    if answered_by not in MACHINE:
        _advance(attempt, ReminderOutcome.ANSWERED, only_from=LIVE)
        return attempt
    if not _advance(attempt, ReminderOutcome.VOICEMAIL, only_from=(*LIVE, ReminderOutcome.ANSWERED)):
        return attempt
    client = client if client is not None else twilio_client()
    try:
        if client is None:
            raise TwilioException("Twilio is not configured")
        update_call(client, attempt.call_sid, voicemail_twiml(attempt.appointment))
    except (TwilioException, RequestException) as exc:
        logger.warning("reminder call %s: leaving the voicemail failed: %s", attempt.call_sid, type(exc).__name__)
        _record(attempt, ReminderOutcome.FAILED, f"voicemail not left: {type(exc).__name__}")
    return attempt


def spoken_phone(e164: str) -> str:
    """`+15550100100` → `5 5 5, 0 1 0, 0 1 0 0`: digits in groups, with pauses, as people read them."""
    national = e164.removeprefix("+1") if e164.startswith("+1") and len(e164) == 12 else e164.lstrip("+")
    if len(national) == 10:
        groups = [national[:3], national[3:6], national[6:]]
    else:
        groups = [national]
    return ", ".join(" ".join(group) for group in groups)


def voicemail_twiml(appointment: Appointment) -> str:
    """The message left after the beep: who we are, what and when, and the number to call back."""
    first_name = (appointment.customer.name or "").split(" ")[0] or "there"
    shop_name = getattr(settings, "SHOP_NAME", "the shop")
    response = VoiceResponse()
    response.say(f"Hi {first_name}, this is {shop_name} with a reminder about your "
                 f"{appointment.get_service_type_display().lower()} appointment on "
                 f"{spoken_time(appointment.scheduled_at)}. If you need to change it, please call us at "
                 f"{spoken_phone(getattr(settings, 'SHOP_PHONE', ''))}. Thank you, and see you soon. Goodbye.")
    response.hangup()
    return str(response)
