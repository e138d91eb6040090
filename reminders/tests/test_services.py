"""Placing reminder calls: safe mode, exactly once, pacing, Twilio's errors, and how a call ends."""

import logging
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import close_old_connections, connection

from autoshop.env_rules import fail_safe_flag
from crm.tests.factories import CallLogFactory
from reminders.models import ReminderAttempt, ReminderOutcome
from reminders.services import (
    ReminderRun,
    reminder_claim,
    reminder_dial,
    send_reminders,
    voicemail_twiml,
)
from reminders.tests.conftest import ACCOUNT, ALLOWED, ALSO_ALLOWED, BASE, SHOP_NUMBER, STRANGER, TUESDAY
from reminders.tests.factories import appointment_at
from telephony.rest import twilio_client
from telephony.tests.twilio_rest import AUTHENTICATE, INVALID_TO, FakeTwilioREST


def run(**kwargs: Any) -> ReminderRun:
    return send_reminders(sleep=lambda seconds: None, **kwargs)


@pytest.mark.django_db
def test_the_call_asks_twilio_for_answering_machine_detection_and_every_callback(twilio) -> None:
    appointment = appointment_at(TUESDAY, 9, phone=ALLOWED)
    result = run()
    assert result.day == TUESDAY and result.dialled == [appointment.pk]
    attempt = ReminderAttempt.objects.get()
    form = twilio.created[0]
    assert form["To"] == [ALLOWED] and form["From"] == [SHOP_NUMBER]
    assert form["Url"] == [f"{BASE}/twilio/reminder/{attempt.pk}"]
    assert form["StatusCallback"] == [f"{BASE}/twilio/reminder/{attempt.pk}/status"]
    assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert form["MachineDetection"] == ["DetectMessageEnd"] and form["AsyncAmd"] == ["true"]
    assert form["AsyncAmdStatusCallback"] == [f"{BASE}/twilio/reminder/{attempt.pk}/amd"]
    assert attempt.outcome == ReminderOutcome.DIALLING and attempt.reminder_date == TUESDAY
    assert attempt.call_sid == next(iter(twilio.calls)) and attempt.dialled_at is not None


@pytest.mark.django_db
def test_safe_mode_dials_the_allowlist_and_skips_everyone_else_with_a_masked_log_line(twilio, caplog) -> None:
    allowed = appointment_at(TUESDAY, 9, phone=ALLOWED)
    stranger = appointment_at(TUESDAY, 10, phone=STRANGER)
    with caplog.at_level(logging.INFO, logger="reminders"):
        result = run()
    assert result.dialled == [allowed.pk] and result.skipped == [stranger.pk]
    assert [form["To"] for form in twilio.created] == [[ALLOWED]]
    assert ReminderAttempt.objects.get(appointment=stranger).outcome == ReminderOutcome.SKIPPED_SAFE_MODE
    assert "+1********21 skipped: safe mode" in caplog.text
    assert STRANGER not in caplog.text and ALLOWED not in caplog.text


@pytest.mark.django_db
def test_safe_mode_is_on_when_the_setting_is_missing(twilio, settings) -> None:
    del settings.REMINDER_SAFE_MODE
    settings.REMINDER_ALLOWED_NUMBERS = []
    appointment_at(TUESDAY, 9, phone=ALLOWED)
    assert run().dialled == [] and twilio.created == []


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["", "enabled", "ture", "  ", "falsch"])
def test_a_safe_mode_text_that_is_not_an_explicit_no_still_refuses_numbers_outside_the_allowlist(
        twilio, settings, text: str) -> None:
    settings.REMINDER_SAFE_MODE = text  # the text as it came from the environment
    allowed = appointment_at(TUESDAY, 9, phone=ALLOWED)
    stranger = appointment_at(TUESDAY, 10, phone=STRANGER)
    result = run()
    assert result.dialled == [allowed.pk] and result.skipped == [stranger.pk]
    assert [form["To"] for form in twilio.created] == [[ALLOWED]]
    assert ReminderAttempt.objects.get(appointment=stranger).outcome == ReminderOutcome.SKIPPED_SAFE_MODE


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["", "enabled", "ture", None])
def test_the_environment_parsing_keeps_safe_mode_on_and_the_dialler_refuses_a_stranger(
        twilio, settings, text: str | None) -> None:
    settings.REMINDER_SAFE_MODE = fail_safe_flag(text)  # what settings.py makes of REMINDER_SAFE_MODE=<text>
    attempt = reminder_claim(appointment=appointment_at(TUESDAY, 10, phone=STRANGER), day=TUESDAY)
    assert attempt is not None
    assert reminder_dial(attempt=attempt, client=twilio_client()).outcome == ReminderOutcome.SKIPPED_SAFE_MODE
    assert twilio.created == []


@pytest.mark.django_db
def test_the_allowlist_may_be_one_comma_separated_string_in_any_format(twilio, settings) -> None:
    settings.REMINDER_ALLOWED_NUMBERS = "(555) 010-2000, 555.010.2001"
    first = appointment_at(TUESDAY, 9, phone=ALLOWED)
    second = appointment_at(TUESDAY, 10, phone=ALSO_ALLOWED)
    appointment_at(TUESDAY, 11, phone=STRANGER)
    assert run().dialled == [first.pk, second.pk]


@pytest.mark.django_db
def test_with_safe_mode_off_everyone_is_dialled(twilio, settings) -> None:
    settings.REMINDER_SAFE_MODE = False
    appointment_at(TUESDAY, 9, phone=ALLOWED)
    appointment_at(TUESDAY, 10, phone=STRANGER)
    assert len(run().dialled) == 2
    assert sorted(form["To"][0] for form in twilio.created) == [ALLOWED, STRANGER]


@pytest.mark.django_db
def test_running_twice_calls_each_customer_once(twilio) -> None:
    appointment = appointment_at(TUESDAY, 9, phone=ALLOWED)
    assert run().dialled == [appointment.pk]
    again = run()
    assert again.due == [] and again.dialled == []
    assert len(twilio.created) == 1


@pytest.mark.django_db
def test_a_claim_is_refused_when_the_appointment_is_already_claimed_for_that_day(twilio) -> None:
    appointment = appointment_at(TUESDAY, 9, phone=ALLOWED)
    assert reminder_claim(appointment=appointment, day=TUESDAY) is not None
    assert reminder_claim(appointment=appointment, day=TUESDAY) is None
    assert reminder_claim(appointment=appointment, day=TUESDAY - timedelta(days=1)) is not None
    assert ReminderAttempt.objects.count() == 2


@pytest.mark.django_db
def test_a_run_that_loses_a_claim_to_another_worker_mid_run_does_not_dial_it(twilio) -> None:
    first = appointment_at(TUESDAY, 9, phone=ALLOWED)
    second = appointment_at(TUESDAY, 10, phone=ALSO_ALLOWED)

    def other_worker_claims_second(seconds: float) -> None:  # runs between the first and second dial
        assert reminder_claim(appointment=second, day=TUESDAY) is not None

    result = send_reminders(sleep=other_worker_claims_second)
    assert result.dialled == [first.pk] and result.already_claimed == [second.pk]
    assert [form["To"] for form in twilio.created] == [[ALLOWED]]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent claims need a server database")
def test_two_runs_at_the_same_moment_call_each_customer_once(twilio) -> None:
    twilio.delay = 0.03  # keep both runs in flight together
    appointments = [appointment_at(TUESDAY, 9, minute, phone=ALLOWED) for minute in range(0, 60, 5)]
    barrier = threading.Barrier(2)
    results = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(send_reminders(day=TUESDAY, sleep=lambda seconds: None))
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 2
    dialled = [pk for result in results for pk in result.dialled]
    assert sorted(dialled) == sorted(a.pk for a in appointments)
    assert sum(len(r.already_claimed) for r in results) == sum(len(r.due) for r in results) - len(appointments)
    assert len(twilio.created) == len(appointments) == ReminderAttempt.objects.count()


@pytest.mark.django_db
def test_calls_are_paced_and_only_real_dials_wait(twilio) -> None:
    appointment_at(TUESDAY, 9, phone=ALLOWED)
    appointment_at(TUESDAY, 10, phone=STRANGER)  # skipped by safe mode: no Twilio request, no wait
    appointment_at(TUESDAY, 11, phone=ALSO_ALLOWED)
    appointment_at(TUESDAY, 12, phone=ALLOWED)
    pauses: list[float] = []
    send_reminders(sleep=pauses.append, pace_seconds=1.5)
    assert pauses == [1.5, 1.5] and len(twilio.created) == 3


@pytest.mark.django_db
def test_the_pace_defaults_to_the_setting(twilio, settings) -> None:
    settings.REMINDER_PACE_SECONDS = 2.5
    appointment_at(TUESDAY, 9, phone=ALLOWED)
    appointment_at(TUESDAY, 10, phone=ALSO_ALLOWED)
    pauses: list[float] = []
    send_reminders(sleep=pauses.append)
    assert pauses == [2.5]


@pytest.mark.django_db
def test_a_dry_run_claims_and_dials_nothing(twilio) -> None:
    appointment = appointment_at(TUESDAY, 9, phone=ALLOWED)
    result = run(dry_run=True)
    assert result.due == [appointment.pk] and result.dialled == []
    assert not ReminderAttempt.objects.exists() and twilio.created == []


@pytest.mark.django_db
def test_the_limit_caps_the_calls_and_the_rest_wait_for_the_next_run(twilio) -> None:
    first = appointment_at(TUESDAY, 9, phone=ALLOWED)
    second = appointment_at(TUESDAY, 10, phone=ALSO_ALLOWED)
    assert run(limit=1).dialled == [first.pk]
    assert run(limit=1).dialled == [second.pk]


@pytest.mark.django_db
def test_a_number_twilio_refuses_fails_that_call_and_the_run_goes_on(twilio) -> None:
    first = appointment_at(TUESDAY, 9, phone=ALLOWED)
    second = appointment_at(TUESDAY, 10, phone=ALSO_ALLOWED)
    twilio.fail_next(INVALID_TO)
    result = run()
    assert result.failed == [first.pk] and result.dialled == [second.pk]
    failed = ReminderAttempt.objects.get(appointment=first)
    assert failed.outcome == ReminderOutcome.FAILED and "21211" in failed.detail and "'To'" in failed.detail


@pytest.mark.django_db
def test_wrong_credentials_fail_the_call_with_twilios_reason(twilio, settings) -> None:
    settings.TWILIO_AUTH_TOKEN = "not-the-token"
    appointment = appointment_at(TUESDAY, 9, phone=ALLOWED)
    assert run().failed == [appointment.pk]
    assert str(AUTHENTICATE.code) in ReminderAttempt.objects.get().detail and twilio.created == []


@pytest.mark.django_db
def test_an_unreachable_twilio_fails_each_call_without_crashing_the_run(twilio, settings) -> None:
    with FakeTwilioREST(ACCOUNT) as gone:
        settings.TWILIO_API_BASE_URL = gone.url
    first = appointment_at(TUESDAY, 9, phone=ALLOWED)
    second = appointment_at(TUESDAY, 10, phone=ALSO_ALLOWED)
    result = run()
    assert result.failed == [first.pk, second.pk]
    assert "ConnectionError" in ReminderAttempt.objects.get(appointment=first).detail


@pytest.mark.django_db
def test_without_twilio_settings_the_call_fails_and_says_why(twilio, settings) -> None:
    settings.TWILIO_ACCOUNT_SID = ""
    appointment = appointment_at(TUESDAY, 9, phone=ALLOWED)
    assert twilio_client() is None
    assert run().failed == [appointment.pk]
    assert "not configured" in ReminderAttempt.objects.get().detail


@pytest.mark.django_db
def test_a_quick_callback_is_not_overwritten_when_the_create_answer_arrives(twilio) -> None:
    appointment = appointment_at(TUESDAY, 9, phone=ALLOWED)
    claimed = reminder_claim(appointment=appointment, day=TUESDAY)
    assert claimed is not None
    claimed_pk = claimed.pk

    class EarlyCallback:
        """A client whose create returns after Twilio already reported the call busy."""

        def __init__(self) -> None:
            self.calls = self

        def create(self, **kwargs: object) -> object:
            ReminderAttempt.objects.filter(pk=claimed_pk).update(outcome=ReminderOutcome.BUSY)
            return type("Call", (), {"sid": "CA" + "f" * 32})()

    attempt = reminder_dial(attempt=claimed, client=EarlyCallback())
    assert attempt.outcome == ReminderOutcome.BUSY and attempt.call_sid == "CA" + "f" * 32


@pytest.mark.django_db
def test_a_call_log_outcome_saved_after_the_call_ended_still_reaches_the_reminder(twilio) -> None:
    appointment_at(TUESDAY, 9, phone=ALLOWED)
    run()
    attempt = ReminderAttempt.objects.get()
    log = CallLogFactory.create(call_sid=attempt.call_sid, direction="outbound", outcome="in_progress")
    log.outcome = "rescheduled"
    log.save()
    attempt.refresh_from_db()
    assert attempt.outcome == ReminderOutcome.RESCHEDULED


@pytest.mark.django_db
def test_the_voicemail_says_who_what_when_and_the_number_to_call_back(twilio) -> None:
    appointment = appointment_at(TUESDAY, 14, 30, phone=ALLOWED, name="Marge Simpson", service_type="brake_inspection")
    twiml = voicemail_twiml(appointment)
    assert "Hi Marge, this is Bart's Automotive" in twiml
    assert "brake inspection appointment on Tuesday, November 24 at 2:30 PM" in twiml
    assert "call us at 5 5 5, 0 1 0, 0 1 0 0." in twiml and twiml.endswith("<Hangup /></Response>")
