"""Text messages with side effects: send one (within opt-out and safe mode, recorded either way), follow
Twilio's status callbacks, and act on what customers text back (STOP / START / HELP / C)."""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from requests import RequestException
from twilio.base.exceptions import TwilioException, TwilioRestException

from autoshop import metrics
from crm.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentAction,
    AppointmentStatus,
    Customer,
    SmsDirection,
    SmsMessage,
    SmsStatus,
)
from crm.phones import mask_phone
from crm.services import appointment_confirm_for_reminder
from reminders.services import number_allowed
from telephony.rest import twilio_client
from telephony.signatures import public_url
from telephony.sms import send_text
from texts import wording
from texts.selectors import (
    REMINDER_KIND,
    appointment_reminded_by_text,
    reminder_texted_since,
    texts_to_number_since,
)

logger = logging.getLogger(__name__)

TEXTED_ACTIONS = frozenset({AppointmentAction.BOOKED, AppointmentAction.MOVED, AppointmentAction.CANCELLED})
UNSUBSCRIBED = 21610  # Twilio: the recipient replied STOP to this sender; nothing reaches them until START

# Twilio's reserved keywords (its default opt-out handling answers the first two groups itself).
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT",
                           "REVOKE"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES"})  # YES is Twilio's opt-in word too
HELP_WORDS = frozenset({"HELP", "INFO"})
CONFIRM_WORDS = frozenset({"C", "YES", "CONFIRM"})
UNRECOGNISED_KIND = "unrecognised"
UNRECOGNISED_REPLY_EVERY = timedelta(days=1)  # an auto-responder texting back must not start a loop
REMINDER_TEXT_ONCE_IN = timedelta(hours=12)

# Twilio's MessageStatus → ours, and how far along each of ours is (a late "sent" never undoes "delivered").
TWILIO_STATUS = {"accepted": SmsStatus.QUEUED, "scheduled": SmsStatus.QUEUED, "queued": SmsStatus.QUEUED,
                 "sending": SmsStatus.QUEUED, "sent": SmsStatus.SENT, "delivered": SmsStatus.DELIVERED,
                 "read": SmsStatus.DELIVERED, "partially_delivered": SmsStatus.DELIVERED,
                 "undelivered": SmsStatus.UNDELIVERED, "failed": SmsStatus.FAILED, "canceled": SmsStatus.FAILED}
PROGRESS = {SmsStatus.QUEUED: 0, SmsStatus.SENT: 1, SmsStatus.DELIVERED: 2, SmsStatus.UNDELIVERED: 2,
            SmsStatus.FAILED: 2}
FINAL_OUTCOMES = {SmsStatus.DELIVERED: "delivered", SmsStatus.UNDELIVERED: "undelivered", SmsStatus.FAILED: "failed"}


def confirmations_on() -> bool:
    """SMS_CONFIRMATIONS: text the customer after a call books, moves or cancels."""
    return bool(getattr(settings, "SMS_CONFIRMATIONS", True))


def reminder_texts_on() -> bool:
    """SMS_REMINDERS: text a reminder when the reminder call reached no one."""
    return bool(getattr(settings, "SMS_REMINDERS", True))


# --- sending ---------------------------------------------------------------------------------------


def text_send(*, to: str, body: str, kind: str, customer: Customer | None = None,
              appointment: Appointment | None = None, client: Any = None) -> SmsMessage:
    """Text `body` to `to` through Twilio, recorded first. Not sent, and recorded so, to a customer who
    opted out (OPTED_OUT) or, in safe mode, to a number off REMINDER_ALLOWED_NUMBERS (BLOCKED). Twilio and
    network errors mark it FAILED with their code; they never raise (a retry could text twice)."""
    message = _record(to=to, body=body, kind=kind, customer=customer, appointment=appointment)
    if customer is not None and customer.sms_opt_out:
        return _settle(message, SmsStatus.OPTED_OUT, "opted_out")
    if not number_allowed(to):
        logger.info("text %s to %s not sent: safe mode", message.pk, mask_phone(to))
        return _settle(message, SmsStatus.BLOCKED, "skipped_safe_mode")
    client = client if client is not None else twilio_client()
    if client is None or not message.from_number:
        logger.warning("text %s not sent: Twilio is not configured (TWILIO_* settings)", message.pk)
        return _settle(message, SmsStatus.FAILED, "failed", error_code="unconfigured")
    try:
        sent = send_text(client, to=to, from_=message.from_number, body=body,
                         status_callback=status_callback_url(message))
    except TwilioRestException as exc:
        logger.warning("text %s to %s refused by Twilio: %s %s", message.pk, mask_phone(to), exc.status, exc.code)
        if exc.code == UNSUBSCRIBED and customer is not None:
            customer_opt_out(customer=customer, opted_out=True)  # a STOP we never heard of (webhook down)
            return _settle(message, SmsStatus.OPTED_OUT, "opted_out", error_code=str(exc.code))
        return _settle(message, SmsStatus.FAILED, "failed", error_code=str(exc.code or exc.status)[:16])
    except (TwilioException, RequestException) as exc:
        logger.warning("text %s to %s failed: %s", message.pk, mask_phone(to), type(exc).__name__)
        return _settle(message, SmsStatus.FAILED, "failed", error_code=type(exc).__name__[:16])
    SmsMessage.objects.filter(pk=message.pk, message_sid="").update(message_sid=sent.sid, updated_at=timezone.now())
    metrics.sms_outcome("sent")
    logger.info("text %s (%s) to %s accepted by Twilio as %s", message.pk, kind, mask_phone(to), sent.sid)
    message.refresh_from_db()
    return message


def status_callback_url(message: SmsMessage) -> str:
    """Where Twilio reports this message's progress (signed, like every webhook)."""
    return public_url(f"/twilio/sms/{message.pk}/status")


def _record(*, to: str, body: str, kind: str, customer: Customer | None, appointment: Appointment | None,
            from_number: str = "") -> SmsMessage:
    """An outbound text, recorded as queued before anything is sent (from the shop's number by default)."""
    return SmsMessage.objects.create(customer=customer, appointment=appointment, direction=SmsDirection.OUTBOUND,
                                     kind=kind[:24], to_number=to, body=body, status=SmsStatus.QUEUED,
                                     from_number=from_number or str(getattr(settings, "TWILIO_PHONE_NUMBER", "")))


def _settle(message: SmsMessage, status: str, outcome: str, error_code: str = "") -> SmsMessage:
    message.status, message.error_code = status, error_code
    message.save(update_fields=["status", "error_code", "updated_at"])
    metrics.sms_outcome(outcome)
    return message


def appointment_text_send(*, appointment_id: int, action: str, client: Any = None) -> SmsMessage | None:
    """Text the customer what a call did to their appointment: the service, the car, the day and time in
    shop time and the shop's address. None when there is nothing (any more) to say: texts are off, the
    appointment is gone, or it was cancelled before a booked/moved text went out (the cancellation's
    own text follows)."""
    if action not in TEXTED_ACTIONS or not confirmations_on():
        return None
    appointment = Appointment.objects.select_related("customer", "vehicle").filter(pk=appointment_id).first()
    if appointment is None:
        return None
    cancelled = appointment.status == AppointmentStatus.CANCELLED
    if cancelled != (action == AppointmentAction.CANCELLED):
        return None
    return text_send(to=appointment.customer.phone, body=wording.appointment_text(appointment, action), kind=action,
                     customer=appointment.customer, appointment=appointment, client=client)


def reminder_text_send(*, appointment_id: int, client: Any = None) -> SmsMessage | None:
    """Text a reminder ("Reply C to confirm") for an appointment whose reminder call reached no one; at
    most one in REMINDER_TEXT_ONCE_IN, and only while the appointment is active and ahead."""
    if not reminder_texts_on():
        return None
    appointment = (Appointment.objects.select_related("customer", "vehicle")
                   .filter(pk=appointment_id, status__in=ACTIVE_STATUSES, scheduled_at__gt=timezone.now()).first())
    if appointment is None or reminder_texted_since(appointment.pk, REMINDER_TEXT_ONCE_IN):
        return None
    return text_send(to=appointment.customer.phone, body=wording.reminder_text(appointment), kind=REMINDER_KIND,
                     customer=appointment.customer, appointment=appointment, client=client)


# --- what Twilio tells us afterwards -----------------------------------------------------------------


def text_status_update(*, message: SmsMessage, message_sid: str, status: str, error_code: str = "") -> SmsMessage:
    """Twilio's status callback: the message moves forward only (queued → sent → delivered / undelivered /
    failed), so a late or repeated callback changes nothing; the final status is counted once."""
    if not message.message_sid:  # a TwiML reply learns its sid from its first callback
        try:
            SmsMessage.objects.filter(pk=message.pk, message_sid="").update(message_sid=message_sid)
        except IntegrityError:
            logger.warning("text %s: status callback for %s, which another text holds", message.pk, message_sid)
    new = TWILIO_STATUS.get(status)
    if new is not None:
        behind = [old for old, rank in PROGRESS.items() if rank < PROGRESS[new]]
        fields: dict[str, Any] = {"status": new, "updated_at": timezone.now()}
        if error_code:
            fields["error_code"] = error_code
        if SmsMessage.objects.filter(pk=message.pk, status__in=behind).update(**fields) and new in FINAL_OUTCOMES:
            metrics.sms_outcome(FINAL_OUTCOMES[new])
    message.refresh_from_db()
    return message


# --- what customers text us ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextReceived:
    """An inbound text as recorded, and the reply to send with TwiML (None: no reply)."""

    message: SmsMessage
    reply: SmsMessage | None


def customer_opt_out(*, customer: Customer, opted_out: bool) -> Customer:
    """Set (STOP) or clear (START) the customer's opt-out of texts."""
    if customer.sms_opt_out != opted_out:
        customer.sms_opt_out = opted_out
        customer.save(update_fields=["sms_opt_out", "updated_at"])
        logger.info("customer %s opted %s texts", customer.pk, "out of" if opted_out else "back in to")
    return customer


def keyword(body: str) -> str:
    """The message as a keyword: trimmed, upper-case, inner spaces collapsed (`" stop "` → `STOP`)."""
    return " ".join(body.split()).upper()


def text_receive(*, message_sid: str, from_number: str, to_number: str, body: str) -> TextReceived:
    """Record a customer's text and act on it. STOP (and Twilio's other opt-out words) opts them out and
    START / UNSTOP / YES back in, with no reply of ours (Twilio answers those itself); HELP gets the shop's
    name, address and phone; C or YES confirms the appointment their reminder text was about. Anything else
    gets a pointer to the phone, at most once a day. Twilio repeating a message changes nothing."""
    customer = Customer.objects.filter(phone=from_number).first() if from_number else None
    with transaction.atomic():
        message, created = SmsMessage.objects.get_or_create(message_sid=message_sid, defaults={
            "customer": customer, "direction": SmsDirection.INBOUND, "to_number": to_number,
            "from_number": from_number, "body": body, "status": SmsStatus.RECEIVED})
    if not created:
        return TextReceived(message=message, reply=None)
    metrics.sms_outcome("received")
    kind, reply_body, appointment = _act_on(keyword(body), customer, from_number)
    SmsMessage.objects.filter(pk=message.pk).update(kind=kind, appointment=appointment)
    message.refresh_from_db()
    reply_kind = UNRECOGNISED_KIND if kind == UNRECOGNISED_KIND else f"reply_{kind}"
    return TextReceived(message=message, reply=_reply(message, customer, reply_body, reply_kind))


def _act_on(word: str, customer: Customer | None, phone: str) -> tuple[str, str, Appointment | None]:
    """Do what the keyword `word` asks; returns the text's kind, the reply ("" for none) and the appointment
    it confirmed. Opt-out words count with trailing punctuation too ("Stop."): erring towards silence."""
    loose = word.rstrip(".!")
    if loose in OPT_OUT_WORDS:
        if customer is not None:
            customer_opt_out(customer=customer, opted_out=True)
        return "opt_out", "", None
    if word in OPT_IN_WORDS - CONFIRM_WORDS:
        if customer is not None:
            customer_opt_out(customer=customer, opted_out=False)
        return "opt_in", "", None
    if loose in HELP_WORDS:
        return "help", wording.help_text(), None
    if loose in CONFIRM_WORDS:
        if word in OPT_IN_WORDS and customer is not None:
            customer_opt_out(customer=customer, opted_out=False)  # Twilio took this YES as an opt-in too
        appointment = _confirm_by_text(customer, phone)
        return "confirm", (wording.confirmed_text(appointment) if appointment else
                           wording.nothing_to_confirm_text()), appointment
    if not texts_to_number_since(phone, UNRECOGNISED_KIND, UNRECOGNISED_REPLY_EVERY).exists():
        return UNRECOGNISED_KIND, wording.unrecognised_text(), None
    return "message", "", None


def _confirm_by_text(customer: Customer | None, phone: str) -> Appointment | None:
    """Confirm the customer's reminded appointment; the confirmed appointment, or None if none waits."""
    appointment = appointment_reminded_by_text(customer) if customer is not None else None
    if appointment is None:
        return None
    confirmed = appointment_confirm_for_reminder(appointment_id=appointment.pk, phone=phone)
    if confirmed is not None:
        logger.info("appointment %s confirmed by text", confirmed.pk)
    return confirmed


def _reply(inbound: SmsMessage, customer: Customer | None, body: str, kind: str) -> SmsMessage | None:
    """Record the reply TwiML will carry; None when there is none to send. Opt-out and safe mode hold for
    replies too (recorded OPTED_OUT / BLOCKED, not sent)."""
    if not body or not inbound.from_number:
        return None
    reply = _record(to=inbound.from_number, body=body, kind=kind, customer=customer, appointment=inbound.appointment,
                    from_number=inbound.to_number)
    if customer is not None and customer.sms_opt_out:
        _settle(reply, SmsStatus.OPTED_OUT, "opted_out")
        return None
    if not number_allowed(reply.to_number):
        _settle(reply, SmsStatus.BLOCKED, "skipped_safe_mode")
        return None
    metrics.sms_outcome("sent")
    return reply
