"""Daily reminder calls: who is called, safe mode, exactly once, pacing, schedule, Twilio callbacks."""

import threading
import xml.etree.ElementTree as ET
from datetime import date, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import close_old_connections, connection
from django.test import Client
from twilio.request_validator import RequestValidator

from crm.models import CallLog
from crm.tests.factories import AppointmentFactory, CallLogFactory, CustomerFactory
from reminders.models import ReminderAttempt, ReminderOutcome
from reminders.services import send_reminders
from reminders.tasks import DAILY_SCHEDULE, ensure_daily_schedule
from voice.security import stream_token_valid
from voice.tests.peers.twilio_rest import FakeTwilioREST

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=NY)  # Monday 09:00: the run is for Tuesday the 24th
TUESDAY = date(2026, 11, 24)
ACCOUNT, TOKEN, BASE = "AC" + "0" * 32, "test-auth-token", "https://shop.example.com"
ALLOWED = "+15550102000"


@pytest.fixture
def twilio(settings):
    with FakeTwilioREST(ACCOUNT, TOKEN) as fake:
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT, TOKEN
        settings.TWILIO_PHONE_NUMBER, settings.TWILIO_API_BASE_URL = "+15550100100", fake.url
        settings.PUBLIC_BASE_URL, settings.SHOP_TIMEZONE = BASE, "America/New_York"
        settings.REMINDER_SAFE_MODE, settings.REMINDER_ALLOWED_NUMBERS = True, [ALLOWED, "+15550102001"]
        with time_machine.travel(NOW, tick=False):
            yield fake


def appointment_at(hour: int, minute: int = 0, day: date = TUESDAY, phone: str = ALLOWED, **kw):
    from crm.models import Customer

    name = kw.pop("customer__name", "Pat Doe")
    customer = Customer.objects.filter(phone=phone).first() or CustomerFactory(phone=phone, name=name)
    return AppointmentFactory(scheduled_at=datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY),
                              customer=customer, **kw)


def run(**kw):
    return send_reminders(sleep=lambda s: None, **kw)


@pytest.mark.django_db
def test_tomorrow_is_chosen_in_the_shop_timezone(twilio) -> None:
    early = appointment_at(0, 30)  # 05:30 UTC on Tuesday
    appointment_at(23, 30, day=date(2026, 11, 23), phone="+15550102001")  # Monday night: not tomorrow
    appointment_at(10, status="cancelled", phone="+15550102001")
    result = run()
    assert result.day == TUESDAY and result.dialled == [early.pk]
    created = twilio.created[0]
    assert created["To"] == [ALLOWED] and created["From"] == ["+15550100100"]
    assert created["MachineDetection"] == ["DetectMessageEnd"] and created["AsyncAmd"] == ["true"]
    attempt = ReminderAttempt.objects.get()
    assert created["Url"] == [f"{BASE}/twilio/reminder/{attempt.pk}"]
    assert created["AsyncAmdStatusCallback"] == [f"{BASE}/twilio/reminder/{attempt.pk}/amd"]
    assert sorted(created["StatusCallbackEvent"]) == ["answered", "completed", "initiated", "ringing"]


@pytest.mark.django_db
def test_a_dst_day_is_a_whole_shop_day(twilio) -> None:
    with time_machine.travel(datetime(2026, 10, 31, 9, 0, tzinfo=NY), tick=False):
        late = appointment_at(23, 30, day=date(2026, 11, 1))
        assert run().dialled == [late.pk]  # 25-hour day: 23:30 is still Sunday the 1st


@pytest.mark.django_db
def test_safe_mode_dials_only_the_allowlist_and_logs_the_rest_masked(twilio, caplog) -> None:
    allowed = appointment_at(9)
    other = appointment_at(10, phone="+15557654321")
    result = run()
    assert result.dialled == [allowed.pk] and result.skipped == [other.pk]
    assert [f["To"] for f in twilio.created] == [[ALLOWED]]
    skipped = ReminderAttempt.objects.get(appointment=other)
    assert skipped.outcome == ReminderOutcome.SKIPPED_SAFE_MODE
    assert "+15557654321" not in caplog.text and "4321" not in caplog.text


@pytest.mark.django_db
def test_safe_mode_off_dials_everyone(twilio, settings) -> None:
    settings.REMINDER_SAFE_MODE = False
    appointment_at(9)
    appointment_at(10, phone="+15557654321")
    assert len(run().dialled) == 2


@pytest.mark.django_db
def test_running_twice_calls_once(twilio) -> None:
    appointment_at(9)
    assert len(run().dialled) == 1
    again = run()
    assert again.due == 0 and again.dialled == []
    assert len(twilio.created) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent workers need a server database")
def test_two_workers_at_once_call_each_customer_once(twilio) -> None:
    for minute in range(0, 60, 10):
        appointment_at(9, minute, phone=ALLOWED)
    barrier = threading.Barrier(2)

    def worker() -> None:
        try:
            barrier.wait()
            with time_machine.travel(NOW, tick=False):
                send_reminders(sleep=lambda s: None)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(twilio.created) == 6
    assert ReminderAttempt.objects.count() == 6


@pytest.mark.django_db
def test_calls_are_paced(twilio) -> None:
    for hour in (9, 10, 11):
        appointment_at(hour)
    pauses: list[float] = []
    send_reminders(sleep=pauses.append, pace_seconds=1.5)
    assert pauses == [1.5, 1.5]


@pytest.mark.django_db
def test_dry_run_changes_nothing(twilio) -> None:
    appointment_at(9)
    out = StringIO()
    call_command("send_reminders", "--dry-run", stdout=out)
    assert "would call +1********00" in out.getvalue()
    assert not ReminderAttempt.objects.exists() and twilio.created == []


@pytest.mark.django_db
def test_command_rejects_past_and_malformed_dates(twilio) -> None:
    with pytest.raises(CommandError, match="past"):
        call_command("send_reminders", "--date", "2026-11-01", stdout=StringIO())
    with pytest.raises(CommandError, match="2026-11-24"):
        call_command("send_reminders", "--date", "next week", stdout=StringIO())


@pytest.mark.django_db
def test_twilio_errors_mark_the_attempt_failed_and_the_run_goes_on(twilio) -> None:
    first = appointment_at(9)
    second = appointment_at(10, phone="+15550102001")
    twilio.error = (400, 21211, "The 'To' number is not a valid phone number.")
    result = run()
    assert result.failed == [first.pk] and result.dialled == [second.pk]
    assert "not a valid phone number" in ReminderAttempt.objects.get(appointment=first).detail


@pytest.mark.django_db
def test_daily_schedule_is_created_once_at_nine_shop_time(twilio) -> None:
    out = StringIO()
    call_command("setup_schedules", stdout=out)
    call_command("setup_schedules", stdout=out)
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name=DAILY_SCHEDULE)
    assert Schedule.objects.filter(name=DAILY_SCHEDULE).count() == 1
    assert schedule.cron == "0 9 * * *" and schedule.func == "reminders.tasks.send_daily_reminders"
    local = schedule.next_run.astimezone(NY)
    assert (local.date(), local.hour, local.minute) == (TUESDAY, 9, 0)
    assert ensure_daily_schedule().pk == schedule.pk
    assert Schedule.objects.filter(name="calendar-sync-sweep").exists()


def _signed_post(path: str, params: dict[str, str]):
    signature = RequestValidator(TOKEN).compute_signature(BASE + path, params)
    return Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.mark.django_db
def test_answered_call_connects_the_agent_with_the_appointment(twilio) -> None:
    appointment = appointment_at(9)
    run()
    attempt = ReminderAttempt.objects.get()
    response = _signed_post(f"/twilio/reminder/{attempt.pk}", {"CallSid": attempt.call_sid, "AnsweredBy": ""})
    stream = ET.fromstring(response.content).find("Connect/Stream")
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert params["direction"] == "outbound" and params["appointment"] == str(appointment.pk)
    assert params["caller"] == ALLOWED and stream_token_valid(params["token"], attempt.call_sid)


@pytest.mark.django_db
def test_webhooks_refuse_forged_requests(twilio) -> None:
    appointment_at(9)
    run()
    attempt = ReminderAttempt.objects.get()
    for suffix in ("", "/status", "/amd"):
        response = Client().post(f"/twilio/reminder/{attempt.pk}{suffix}", {"CallSid": attempt.call_sid},
                                 HTTP_X_TWILIO_SIGNATURE="Zm9yZ2Vk")
        assert response.status_code == 403


@pytest.mark.django_db
def test_a_machine_gets_a_voicemail_with_the_shop_number(twilio) -> None:
    appointment_at(9, customer__name="Marge Simpson")
    run()
    attempt = ReminderAttempt.objects.get()
    params = {"CallSid": attempt.call_sid, "AnsweredBy": "machine_end_beep"}
    assert _signed_post(f"/twilio/reminder/{attempt.pk}/amd", params).status_code == 204
    assert _signed_post(f"/twilio/reminder/{attempt.pk}/amd", params).status_code == 204  # a duplicate callback
    assert len(twilio.updates) == 1
    call_sid, form = twilio.updates[0]
    assert call_sid == attempt.call_sid
    say = ET.fromstring(form["Twiml"][0]).find("Say").text
    assert "Hi Marge" in say and "Tuesday, November 24 at 9 AM" in say and "5 5 5 0 1 0 0 1 0 0" in say
    attempt.refresh_from_db()
    assert attempt.outcome == ReminderOutcome.VOICEMAIL and attempt.answered_by == "machine_end_beep"


@pytest.mark.django_db
def test_a_human_answer_is_recorded_and_the_call_outcome_follows_the_conversation(twilio) -> None:
    appointment_at(9)
    run()
    attempt = ReminderAttempt.objects.get()
    _signed_post(f"/twilio/reminder/{attempt.pk}/amd", {"CallSid": attempt.call_sid, "AnsweredBy": "human"})
    attempt.refresh_from_db()
    assert attempt.outcome == ReminderOutcome.ANSWERED and twilio.updates == []
    CallLogFactory(call_sid=attempt.call_sid, outcome="confirmed", direction="outbound")
    _signed_post(f"/twilio/reminder/{attempt.pk}/status", {"CallSid": attempt.call_sid, "CallStatus": "completed"})
    attempt.refresh_from_db()
    assert attempt.outcome == ReminderOutcome.CONFIRMED
    assert CallLog.objects.get(call_sid=attempt.call_sid).direction == "outbound"


@pytest.mark.django_db
def test_no_answer_is_recorded(twilio) -> None:
    appointment_at(9)
    run()
    attempt = ReminderAttempt.objects.get()
    _signed_post(f"/twilio/reminder/{attempt.pk}/status", {"CallSid": attempt.call_sid, "CallStatus": "no-answer"})
    attempt.refresh_from_db()
    assert attempt.outcome == ReminderOutcome.NO_ANSWER


@pytest.mark.django_db
def test_admin_call_now_uses_the_same_safety_and_claim(twilio) -> None:
    from django.contrib.auth.models import User

    ok = appointment_at(9)
    blocked = appointment_at(10, phone="+15557654321")
    user = User.objects.create_superuser("advisor", "a@example.com", "pw-not-secret-123")
    client = Client()
    client.force_login(user)
    url = "/admin/crm/appointment/"
    for _ in range(2):
        client.post(url, {"action": "call_now", "_selected_action": [ok.pk, blocked.pk]})
    assert [f["To"] for f in twilio.created] == [[ALLOWED]]
    outcomes = dict(ReminderAttempt.objects.values_list("appointment_id", "outcome"))
    assert outcomes == {ok.pk: "dialling", blocked.pk: "skipped_safe_mode"}
    page = client.get(f"/admin/crm/appointment/{ok.pk}/change/")
    assert b"Dialling" in page.content
