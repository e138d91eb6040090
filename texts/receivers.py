"""Receivers that queue a text when a call changed an appointment or a reminder call reached no one
(connected in apps.py). They only queue: the text is sent by a django-q2 worker, never on a call's loop."""

import logging
from typing import Any

from django_q.tasks import async_task

from texts.services import TEXTED_ACTIONS, confirmations_on, reminder_texts_on

logger = logging.getLogger(__name__)


def queue_appointment_text(sender: Any, appointment_id: int, action: str, call_sid: str = "", **kwargs: Any) -> None:
    """A call booked, moved or cancelled an appointment: queue the customer's text (SMS_CONFIRMATIONS)."""
    if action in TEXTED_ACTIONS and confirmations_on():
        _queue("texts.tasks.send_appointment_text", appointment_id, str(action))


def queue_reminder_text(sender: Any, attempt_id: int, appointment_id: int, outcome: str, **kwargs: Any) -> None:
    """A reminder call found no one (no answer, busy, machine): queue a reminder text (SMS_REMINDERS)."""
    if reminder_texts_on():
        _queue("texts.tasks.send_reminder_text", appointment_id)


def _queue(func: str, *args: Any) -> None:
    try:
        async_task(func, *args)
    except Exception as exc:  # noqa: BLE001 - the broker failing (Redis down) must not fail the committed change
        logger.warning("could not queue %s%r: %s", func, args, type(exc).__name__)
