"""The admin is the service advisors' only screen: every page opens, search finds, lists stay cheap."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Model
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import Appointment, CallLog, Customer, Vehicle
from crm.tests.factories import AppointmentFactory, CallLogFactory, CustomerFactory, VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client() -> Client:
    """A logged-in service advisor with every CRM permission (a superuser)."""
    user = User.objects.create_superuser("advisor", "advisor@example.com", "pw-not-secret-123")
    client = Client()
    client.force_login(user)
    return client


def _changelist(model: type[Model]) -> str:
    return reverse(f"admin:crm_{model._meta.model_name}_changelist")


@pytest.mark.parametrize("model", [Customer, Vehicle, Appointment, CallLog])
def test_every_changelist_opens_for_staff(staff_client: Client, model: type) -> None:
    AppointmentFactory.create()
    CallLogFactory.create()
    response = staff_client.get(_changelist(model))
    assert response.status_code == 200


def test_every_change_page_opens_for_staff(staff_client: Client) -> None:
    appointment = AppointmentFactory.create()
    call = CallLogFactory.create(customer=appointment.customer)
    for model, obj in [(Customer, appointment.customer), (Vehicle, appointment.vehicle),
                       (Appointment, appointment), (CallLog, call)]:
        assert obj is not None
        url = reverse(f"admin:crm_{model._meta.model_name}_change", args=[obj.pk])
        assert staff_client.get(url).status_code == 200, model


@pytest.mark.parametrize("model", [Customer, Vehicle, Appointment])
def test_add_pages_open_for_staff(staff_client: Client, model: type[Model]) -> None:
    assert staff_client.get(reverse(f"admin:crm_{model._meta.model_name}_add")).status_code == 200


def test_call_logs_cannot_be_added_or_edited(staff_client: Client) -> None:
    call = CallLogFactory.create()
    assert staff_client.get(reverse("admin:crm_calllog_add")).status_code == 403
    response = staff_client.post(reverse("admin:crm_calllog_change", args=[call.pk]), {"outcome": "booked"})
    assert response.status_code == 403
    call.refresh_from_db()
    assert call.outcome != "booked"


def test_anonymous_visitors_are_sent_to_login() -> None:
    response = Client().get(_changelist(Customer))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize("typed", ["(555) 010-2000", "555-010-2000", "+1 555 010 2000", "5550102000"])
def test_customer_search_finds_phone_typed_any_way(staff_client: Client, typed: str) -> None:
    wanted = CustomerFactory.create(phone="+15550102000", name="Marge Bouvier")
    CustomerFactory.create(phone="+15550102001", name="Someone Else")
    response = staff_client.get(_changelist(Customer), {"q": typed})
    assert list(response.context["cl"].result_list) == [wanted]


@pytest.mark.parametrize("field", ["name", "email", "vin", "plate"])
def test_customer_search_finds_by_name_email_vin_and_plate(staff_client: Client, field: str) -> None:
    vehicle = VehicleFactory.create(customer=CustomerFactory.create(name="Homer Simpson", email="homer@example.com"),
                             license_plate="EVRGRN")
    VehicleFactory.create()  # noise
    term = {"name": "Simpson", "email": "homer@example.com", "vin": str(vehicle.vin).lower(), "plate": "evrgrn"}[field]
    response = staff_client.get(_changelist(Customer), {"q": term})
    assert list(response.context["cl"].result_list) == [vehicle.customer]


def test_appointment_search_finds_customer_by_phone(staff_client: Client) -> None:
    appointment = AppointmentFactory.create(customer=CustomerFactory.create(phone="+15550104444"))
    AppointmentFactory.create()
    response = staff_client.get(_changelist(Appointment), {"q": "(555) 010-4444"})
    assert list(response.context["cl"].result_list) == [appointment]


def test_vehicle_search_finds_the_owner_by_phone(staff_client: Client) -> None:
    vehicle = VehicleFactory.create(customer=CustomerFactory.create(phone="+15550104444"))
    VehicleFactory.create()
    response = staff_client.get(_changelist(Vehicle), {"q": "555.010.4444"})
    assert list(response.context["cl"].result_list) == [vehicle]


@pytest.mark.parametrize("side", ["from_number", "to_number"])
def test_call_log_search_finds_either_end_of_the_call_by_phone(staff_client: Client, side: str) -> None:
    call = CallLogFactory.create(**{side: "+15550104444"})
    CallLogFactory.create(from_number="+15550109999", to_number="+15550108888")
    response = staff_client.get(_changelist(CallLog), {"q": "(555) 010-4444"})
    assert list(response.context["cl"].result_list) == [call]


def test_a_search_that_is_no_phone_number_finds_by_the_other_fields_only(staff_client: Client) -> None:
    wanted = CustomerFactory.create(name="Ned Flanders", phone="+15550102000")
    CustomerFactory.create(name="Someone Else")
    response = staff_client.get(_changelist(Customer), {"q": "  Flanders  "})
    assert list(response.context["cl"].result_list) == [wanted]


def test_customer_page_shows_vehicles_appointments_and_calls(staff_client: Client) -> None:
    appointment = AppointmentFactory.create(notes="Squeaky brakes")
    CallLogFactory.create(customer=appointment.customer)
    response = staff_client.get(reverse("admin:crm_customer_change", args=[appointment.customer.pk]))
    html = response.content.decode()
    assert appointment.vehicle is not None and str(appointment.vehicle.vin) in html
    assert "Oil change" in html
    assert "Calls" in html or "Call logs" in html


def test_transcript_reads_as_a_conversation(staff_client: Client) -> None:
    call = CallLogFactory.create(
        transcript=[
            {"speaker": "agent", "text": "Bart's Automotive, how can I help?", "at": "2026-11-23T10:00:00Z"},
            {"speaker": "caller", "text": "My brakes squeal.", "at": "2026-11-23T10:00:03Z"},
            {"speaker": "agent", "text": "Let me find you a slot", "at": "2026-11-23T10:00:05Z", "interrupted": True},
        ],
        latency=[{"stt_final_ms": 120, "llm_first_token_ms": 310, "tts_first_byte_ms": 150, "first_audio_ms": 3,
                  "total_ms": 583}],
    )
    html = staff_client.get(reverse("admin:crm_calllog_change", args=[call.pk])).content.decode()
    assert html.index("Bart&#x27;s Automotive, how can I help?") < html.index("My brakes squeal.")
    assert "interrupted by the caller" in html
    assert "583" in html


def test_appointment_day_filter_uses_the_shop_day(staff_client: Client) -> None:
    now = timezone.now()
    tomorrow = AppointmentFactory.create(scheduled_at=now + timedelta(days=1))
    AppointmentFactory.create(scheduled_at=now + timedelta(days=5))
    AppointmentFactory.create(scheduled_at=now - timedelta(days=5))
    response = staff_client.get(_changelist(Appointment), {"day": "tomorrow"})
    assert list(response.context["cl"].result_list) == [tomorrow]
    response = staff_client.get(_changelist(Appointment), {"day": "next7"})
    assert len(response.context["cl"].result_list) == 2


def test_appointment_filters_by_status_and_service(staff_client: Client) -> None:
    wanted = AppointmentFactory.create(status="confirmed", service_type="tire_rotation")
    AppointmentFactory.create(status="scheduled", service_type="tire_rotation")
    AppointmentFactory.create(status="confirmed", service_type="oil_change")
    response = staff_client.get(_changelist(Appointment), {"status__exact": "confirmed",
                                                           "service_type__exact": "tire_rotation"})
    assert list(response.context["cl"].result_list) == [wanted]


def _edit(staff_client: Client, appointment: Appointment) -> None:
    """Post the appointment's change form as an advisor would: a new service, confirmed, with a note."""
    url = reverse("admin:crm_appointment_change", args=[appointment.pk])
    local = timezone.localtime(appointment.scheduled_at)
    response = staff_client.post(url, {
        "customer": appointment.customer_id, "vehicle": appointment.vehicle_id, "service_type": "brake_inspection",
        "scheduled_at_0": local.strftime("%Y-%m-%d"), "scheduled_at_1": local.strftime("%H:%M:%S"),
        "duration": "00:30:00", "status": "confirmed", "notes": "Customer waits", "total_cost": "39.99",
        # the reminders app adds its (read-only) inline of reminder attempts to this page
        "reminder_attempts-TOTAL_FORMS": "0", "reminder_attempts-INITIAL_FORMS": "0",
        "reminder_attempts-MIN_NUM_FORMS": "0", "reminder_attempts-MAX_NUM_FORMS": "1000",
    })
    assert response.status_code == 302, response.content.decode()[:2000]


def test_staff_can_edit_an_appointment(staff_client: Client) -> None:
    appointment = AppointmentFactory.create()
    _edit(staff_client, appointment)
    appointment.refresh_from_db()
    assert (appointment.status, appointment.service_type, appointment.notes) == (
        "confirmed", "brake_inspection", "Customer waits")
    assert appointment.calendar_sync == "pending"  # the calendar follows once the edit is committed


def test_a_staff_edit_reaches_the_calendar_once_it_is_committed(staff_client: Client,
                                                                 django_capture_on_commit_callbacks) -> None:
    appointment = AppointmentFactory.create(calendar_sync="synced")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _edit(staff_client, appointment)
    assert len(callbacks) == 1
    appointment.refresh_from_db()
    assert appointment.calendar_sync == "synced" and appointment.calendar_event_id


def _seed_many(count: int) -> None:
    for _ in range(count):
        appointment = AppointmentFactory.create()
        VehicleFactory.create(customer=appointment.customer)
        CallLogFactory.create(customer=appointment.customer)


@pytest.mark.parametrize("model", [Customer, Vehicle, Appointment, CallLog])
def test_changelist_query_count_does_not_grow_with_rows(staff_client: Client, model: type,
                                                        django_assert_max_num_queries) -> None:
    _seed_many(3)
    staff_client.get(_changelist(model))  # warm sessions, content types
    with CaptureQueriesContext(connection) as few:
        staff_client.get(_changelist(model))
    _seed_many(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = staff_client.get(_changelist(model))
    assert len(response.context["cl"].result_list) >= 20


def test_customer_change_page_query_count_does_not_grow_with_history(staff_client: Client) -> None:
    customer = CustomerFactory.create()
    counts = []
    for rows in (1, 15):
        for _ in range(rows):
            AppointmentFactory.create(customer=customer, vehicle=VehicleFactory.create(customer=customer))
            CallLogFactory.create(customer=customer)
        with CaptureQueriesContext(connection) as queries:
            response = staff_client.get(reverse("admin:crm_customer_change", args=[customer.pk]))
        assert response.status_code == 200
        counts.append(len(queries.captured_queries))
    assert counts[1] == counts[0], counts
