"""The service desk: today's board and the day's numbers on the admin's front page, search by a number's last
digits, and pages that read as advisors speak (shop time, national numbers, no database ids)."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.dashboard import DeskNumber, board_for_day, peak_overlap, percentile
from crm.models import (
    Appointment,
    CallAppointment,
    CallbackRequest,
    CallLog,
    Customer,
    SmsMessage,
)
from crm.tests.factories import AppointmentFactory, CallLogFactory, CustomerFactory
from scheduling.shop import shop_today

pytestmark = pytest.mark.django_db

SHOP = ZoneInfo("America/New_York")
DAY = date(2026, 12, 15)  # a Tuesday


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    """A moment on the shop's wall clock."""
    return datetime.combine(day, time(hour, minute), tzinfo=SHOP)


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw-not-secret-123"))
    return client


def booking(hour: int, minute: int = 0, *, minutes: int = 30, status: str = "scheduled", day: date = DAY,
            **fields: object) -> Appointment:
    return AppointmentFactory.create(scheduled_at=at(hour, minute, day), duration=timedelta(minutes=minutes),
                                     status=status, **fields)


def _desk(client: Client, day: date | None = DAY) -> dict:
    response = client.get(reverse("admin:index"), {"day": day.isoformat()} if day else {})
    assert response.status_code == 200
    return {"board": response.context["board"], "numbers": {n.label: n for n in response.context["numbers"]},
            "html": response.content.decode()}


def _listed(client: Client, number: DeskNumber) -> set:
    """The rows of the filtered admin list a number links to."""
    assert number.url is not None
    response = client.get(number.url)
    assert response.status_code == 200, number.url
    assert "e" not in response.wsgi_request.GET, f"the admin refused the filter of {number.url}"
    return set(response.context["cl"].result_list)


# --- The board ------------------------------------------------------------------------------------------------

def test_the_board_groups_the_days_appointments_by_hour_in_time_order() -> None:
    ten_thirty, nine, nine_thirty = booking(10, 30), booking(9), booking(9, 30)
    booking(9, day=DAY + timedelta(days=1))  # another day
    board = board_for_day(DAY)
    assert [(h.label, h.appointments) for h in board.hours] == [("9 AM", [nine, nine_thirty]), ("10 AM", [ten_thirty])]


@pytest.mark.parametrize(("jobs", "load"), [
    ([(9, 0, 60), (9, 30, 30)], 2),  # overlapping: two bays
    ([(9, 0, 30), (9, 30, 30)], 1),  # back to back: the same bay twice
    ([(8, 0, 120), (9, 0, 30), (9, 15, 30)], 3),  # a long job from 8 holds its bay at 9 too
])
def test_bay_load_is_the_most_bays_held_at_once_in_the_hour(settings, jobs: list, load: int) -> None:
    settings.SHOP_BAYS = 3
    for hour, minute, minutes in jobs:
        booking(hour, minute, minutes=minutes)
    nine = next(h for h in board_for_day(DAY).hours if h.label == "9 AM")
    assert (nine.bays_used, nine.bays, nine.full) == (load, 3, load == 3)


def test_cancellations_and_no_shows_are_folded_away_and_hold_no_bay() -> None:
    live = booking(9, minutes=60, status="arrived")
    cancelled, no_show = booking(9, status="cancelled"), booking(9, 15, status="no_show")
    board = board_for_day(DAY)
    assert board.hours[0].appointments == [live] and board.hours[0].bays_used == 1
    assert board.folded == [cancelled, no_show]


def test_the_board_day_is_the_shop_day_not_utc() -> None:
    late = booking(22, 30, minutes=60)  # 03:30 UTC the next day
    booking(23, 30, day=DAY - timedelta(days=1))  # 04:30 UTC on DAY, but the evening before in the shop
    board = board_for_day(DAY)
    assert [h.appointments for h in board.hours] == [[late]]
    assert board.hours[0].label == "10 PM"


def test_the_front_page_shows_the_board_of_the_day_asked_for_with_links_to_customer_and_car(staff_client) -> None:
    appointment = booking(9, status="confirmed")
    desk = _desk(staff_client)
    assert desk["board"].day == DAY and desk["board"].hours[0].appointments == [appointment]
    html = desk["html"]
    assert "Board · Tue Dec 15" in html and "1 of 6 bays" in html and "9:00 AM\N{EN DASH}9:30 AM" in html
    assert reverse("admin:crm_customer_change", args=[appointment.customer_id]) in html
    assert reverse("admin:crm_vehicle_change", args=[appointment.vehicle_id]) in html
    assert 'class="status status-confirmed"' in html
    assert 'name="day" value="2026-12-15"' in html and "?day=2026-12-16" in html


@pytest.mark.parametrize("day", [None, "", "yesterday", "2026-13-45"])
def test_without_a_readable_day_the_board_is_today(staff_client, day: str | None) -> None:
    response = staff_client.get(reverse("admin:index"), {"day": day} if day is not None else {})
    assert response.context["board"].day == shop_today()
    assert "Today's board" in response.content.decode()


def test_the_folded_appointments_sit_in_a_closed_details_element(staff_client) -> None:
    booking(11, status="cancelled")
    html = _desk(staff_client)["html"]
    assert '<details class="folded">' in html and "1 cancelled or no-show" in html


# --- The day's numbers ------------------------------------------------------------------------------------------

def test_calls_answered_counts_the_days_inbound_calls_and_links_to_them(staff_client) -> None:
    calls = {CallLogFactory.create(started_at=at(8)), CallLogFactory.create(started_at=at(23, 59))}
    CallLogFactory.create(started_at=at(9), direction="outbound")  # a reminder call we made
    CallLogFactory.create(started_at=at(23, 59, DAY - timedelta(days=1)))  # 04:59 UTC on DAY
    number = _desk(staff_client)["numbers"]["Calls answered"]
    assert number.value == "2"
    assert _listed(staff_client, number) == calls


@pytest.mark.parametrize(("action", "label"), [("booked", "Booked by the agent"), ("moved", "Moved by the agent"),
                                                ("cancelled", "Cancelled by the agent")])
def test_the_agents_bookings_moves_and_cancellations_link_to_those_appointments(staff_client, action: str,
                                                                                label: str) -> None:
    call = CallLogFactory.create(started_at=at(8))
    wanted = [booking(10), booking(11)]
    for appointment in wanted:
        CallAppointment.objects.create(call=call, appointment=appointment, action=action, at=at(8, 5))
    CallAppointment.objects.create(call=call, appointment=wanted[0], action=action, at=at(8, 6))  # twice: one row
    other_day, other_action = booking(12), booking(13)
    CallAppointment.objects.create(call=call, appointment=other_day, action=action, at=at(8, day=DAY + timedelta(1)))
    CallAppointment.objects.create(call=call, appointment=other_action, action="confirmed", at=at(8, 5))
    number = _desk(staff_client)["numbers"][label]
    assert number.value == "2"
    assert _listed(staff_client, number) == set(wanted)


@pytest.mark.parametrize(("outcome", "label"), [("transferred", "Transferred to staff"),
                                                ("abandoned", "Caller hung up"),
                                                ("booking_failed", "Booking attempts failed")])
def test_transfers_abandoned_calls_and_failed_bookings_count_the_days_calls(staff_client, outcome: str,
                                                                            label: str) -> None:
    wanted = {CallLogFactory.create(started_at=at(10), outcome=outcome)}
    CallLogFactory.create(started_at=at(10), outcome="booked")
    CallLogFactory.create(started_at=at(10, day=DAY - timedelta(days=1)), outcome=outcome)
    number = _desk(staff_client)["numbers"][label]
    assert number.value == "1"
    assert _listed(staff_client, number) == wanted


def test_callbacks_waiting_are_the_open_requests_of_any_day(staff_client) -> None:
    long_ago = at(9, day=date(2026, 1, 5))
    open_ones = {CallbackRequest.objects.create(phone="+15550102000", message="Call me", created_at=at(9)),
                 CallbackRequest.objects.create(phone="+15550102001", message="Quote?", created_at=long_ago)}
    CallbackRequest.objects.create(phone="+15550102002", message="Done", done_at=timezone.now())
    number = _desk(staff_client)["numbers"]["Callbacks waiting"]
    assert number.value == "2"
    assert _listed(staff_client, number) == open_ones


def test_reply_latency_is_p50_and_p95_of_the_days_turns(staff_client) -> None:
    CallLogFactory.create(started_at=at(9), latency=[{"total_ms": ms} for ms in range(100, 1100, 100)])
    CallLogFactory.create(started_at=at(10), latency=[{"total_ms": 5000}, {"stt_final_ms": 90}])  # no total: skipped
    CallLogFactory.create(started_at=at(10, day=DAY + timedelta(days=1)), latency=[{"total_ms": 9999}])
    number = _desk(staff_client)["numbers"]["Reply latency p50 / p95"]
    assert number.value == "600 / 5000 ms"  # 11 turns: the 6th and the 11th
    assert len(_listed(staff_client, number)) == 2


def test_no_turns_no_latency_figures(staff_client) -> None:
    assert _desk(staff_client)["numbers"]["Reply latency p50 / p95"].value == "none"


def test_bookings_waiting_for_the_calendar_are_pending_or_failing(staff_client) -> None:
    pending, failing = booking(9, calendar_sync="pending"), booking(10, calendar_sync="failed")
    booking(11, calendar_sync="synced")
    number = _desk(staff_client)["numbers"]["Waiting for calendar sync"]
    assert number.value == "2" and _listed(staff_client, number) == {pending, failing}
    assert number.parts[0].value == "1" and _listed(staff_client, number.parts[0]) == {failing}


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7], 0.95) == 7
    assert (percentile(list(range(1, 101)), 0.5), percentile(list(range(1, 101)), 0.95)) == (50, 95)


def test_peak_overlap_clips_to_the_window() -> None:
    jobs = [(at(8), at(10)), (at(9, 30), at(9, 45)), (at(10), at(11))]
    assert peak_overlap(jobs, at(9), at(10)) == 2
    assert peak_overlap(jobs, at(10), at(11)) == 1


# --- Search by the last digits ------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["0109", "555-0109", "5550109", "555 0109"])
def test_customer_search_finds_the_last_4_or_7_digits(staff_client, typed: str) -> None:
    wanted = CustomerFactory.create(phone="+18655550109")
    CustomerFactory.create(phone="+18655550110")
    response = staff_client.get(reverse("admin:crm_customer_changelist"), {"q": typed})
    assert list(response.context["cl"].result_list) == [wanted]


def test_five_digits_are_no_number_ending(staff_client) -> None:
    CustomerFactory.create(phone="+18655550109")
    response = staff_client.get(reverse("admin:crm_customer_changelist"), {"q": "50109"})
    assert list(response.context["cl"].result_list) == []


def test_call_log_and_callback_search_find_the_last_4_digits(staff_client) -> None:
    call = CallLogFactory.create(from_number="+18655550109", customer=None)
    CallLogFactory.create(from_number="+18655550110", customer=None)
    found = staff_client.get(reverse("admin:crm_calllog_changelist"), {"q": "0109"}).context["cl"].result_list
    assert list(found) == [call]
    request = CallbackRequest.objects.create(phone="+18655550109", message="Call me")
    CallbackRequest.objects.create(phone="+18655550110", message="Call me")
    found = staff_client.get(reverse("admin:crm_callbackrequest_changelist"), {"q": "0109"}).context["cl"].result_list
    assert list(found) == [request]


# --- Pages as advisors read them ---------------------------------------------------------------------------------

def test_lists_show_shop_time_national_numbers_and_no_database_ids(staff_client) -> None:
    customer = CustomerFactory.create(name="Marge Bouvier", phone="+18655550109")
    appointment = AppointmentFactory.create(customer=customer, scheduled_at=at(12), service_type="wheel_alignment")
    CallLogFactory.create(customer=customer, started_at=at(12), duration=timedelta(minutes=4, seconds=12))
    html = staff_client.get(reverse("admin:crm_appointment_changelist")).content.decode()
    assert "Tue Dec 15, 12:00 PM" in html and "Marge Bouvier" in html and "2018 Honda Civic" in html
    assert f"for {customer.pk} at" not in html and "17:00" not in html
    html = staff_client.get(reverse("admin:crm_calllog_changelist")).content.decode()
    assert "Tue Dec 15, 12:00 PM" in html and "(865) 555-0109" in html and "4 min 12 s" in html
    html = staff_client.get(reverse("admin:crm_customer_changelist")).content.decode()
    assert "(865) 555-0109" in html and "+18655550109" not in html
    html = staff_client.get(reverse("admin:crm_appointment_change", args=[appointment.pk])).content.decode()
    assert "Wheel alignment · Tue Dec 15, 12:00 PM · Marge Bouvier" in html


def test_the_call_page_links_the_customer_and_each_appointment_with_what_the_call_did(staff_client) -> None:
    call = CallLogFactory.create(started_at=at(8), duration=timedelta(seconds=45))
    booked, moved = booking(9, customer=call.customer), booking(10, customer=call.customer)
    CallAppointment.objects.create(call=call, appointment=booked, action="booked", at=at(8, 1))
    CallAppointment.objects.create(call=call, appointment=moved, action="moved", at=at(8, 2))
    html = staff_client.get(reverse("admin:crm_calllog_change", args=[call.pk])).content.decode()
    assert reverse("admin:crm_customer_change", args=[call.customer_id]) in html
    assert (f'Booked: <a href="{reverse("admin:crm_appointment_change", args=[booked.pk])}">'
            "Oil change · Tue Dec 15, 9:00 AM</a>") in html
    assert f'Moved: <a href="{reverse("admin:crm_appointment_change", args=[moved.pk])}">' in html
    assert "45 s" in html and "No recording of this call." in html
    assert '<fieldset class="module aligned collapse' in html or 'class="collapse' in html  # technical, folded
    html = staff_client.get(reverse("admin:crm_appointment_change", args=[booked.pk])).content.decode()
    assert f'Booked: <a href="{reverse("admin:crm_calllog_change", args=[call.pk])}">Inbound call · Tue Dec 15' in html


def test_a_recorded_call_plays_in_the_page(staff_client, settings, tmp_path) -> None:
    settings.MEDIA_ROOT, settings.MEDIA_URL = str(tmp_path), "/media/"
    call = CallLogFactory.create()
    call.recording.save("call.wav", ContentFile(b"RIFF"), save=True)
    html = staff_client.get(reverse("admin:crm_calllog_change", args=[call.pk])).content.decode()
    assert f'<audio controls preload="metadata" src="{call.recording.url}">' in html


def test_the_customer_page_shows_texts_newest_first_and_the_opt_out(staff_client) -> None:
    customer = CustomerFactory.create(sms_opt_out=True)
    SmsMessage.objects.create(customer=customer, to_number=customer.phone, body="older text", created_at=at(8))
    SmsMessage.objects.create(customer=customer, to_number=customer.phone, body="newer text", created_at=at(9))
    html = staff_client.get(reverse("admin:crm_customer_change", args=[customer.pk])).content.decode()
    assert html.index("newer text") < html.index("older text")
    assert "Opted out (replied STOP)" in html


def test_an_advisor_sees_the_texts_without_a_text_permission() -> None:
    from django.contrib.auth.models import Group

    user = User.objects.create_user("sam", "sam@example.com", "pw-not-secret-123", is_staff=True)
    user.groups.add(Group.objects.get(name="advisor"))
    client = Client()
    client.force_login(user)
    customer = CustomerFactory.create()
    SmsMessage.objects.create(customer=customer, to_number=customer.phone, body="Your car is ready")
    assert "Your car is ready" in client.get(reverse("admin:crm_customer_change", args=[customer.pk])).content.decode()


def test_a_failed_booking_is_its_own_outcome_filter(staff_client) -> None:
    failed = CallLogFactory.create(outcome="booking_failed")
    CallLogFactory.create(outcome="information")
    response = staff_client.get(reverse("admin:crm_calllog_changelist"), {"outcome__exact": "booking_failed"})
    assert list(response.context["cl"].result_list) == [failed]
    assert "Booking attempt failed" in response.content.decode()


def test_the_customer_list_has_no_state_filter(staff_client) -> None:
    CustomerFactory.create()
    response = staff_client.get(reverse("admin:crm_customer_changelist"))
    assert [f.title for f in response.context["cl"].filter_specs] == ["opted out of texts", "is demo"]


def test_the_root_leads_to_the_desk() -> None:
    response = Client().get("/")
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")


def test_all_call_and_customer_rows_have_no_model_str_above_them(staff_client) -> None:
    call = CallLogFactory.create()
    html = staff_client.get(reverse("admin:crm_customer_change", args=[call.customer_id])).content.decode()
    assert call.call_sid not in html.split('id="calls-group"')[1]
    assert Customer.objects.count() == 1 and CallLog.objects.count() == 1


def test_a_saved_appointment_is_named_by_its_desk_label_in_the_message_and_the_history(staff_client) -> None:
    from django.contrib.admin.models import LogEntry
    from django.contrib.messages import get_messages

    appointment = booking(12, customer=CustomerFactory.create(name="Marge Bouvier"))
    local = timezone.localtime(appointment.scheduled_at)
    response = staff_client.post(reverse("admin:crm_appointment_change", args=[appointment.pk]), {
        "customer": appointment.customer_id, "vehicle": appointment.vehicle_id, "service_type": "oil_change",
        "scheduled_at_0": local.strftime("%Y-%m-%d"), "scheduled_at_1": local.strftime("%H:%M:%S"),
        "duration": "00:30:00", "status": "confirmed", "notes": "", "total_cost": "",
        "reminder_attempts-TOTAL_FORMS": "0", "reminder_attempts-INITIAL_FORMS": "0",
        "reminder_attempts-MIN_NUM_FORMS": "0", "reminder_attempts-MAX_NUM_FORMS": "1000",
    })
    assert response.status_code == 302
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert "Oil change · Tue Dec 15, 12:00 PM · Marge Bouvier" in message and "17:00" not in message
    assert LogEntry.objects.get().object_repr == "Oil change · Tue Dec 15, 12:00 PM · Marge Bouvier"
