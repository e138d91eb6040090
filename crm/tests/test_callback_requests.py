"""Callback requests: the message a caller left when the agent could not help, tied to the call and the
customer, listed open first in admin, and marked done there by the advisor who called back."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.db import IntegrityError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.models import CallbackRequest
from crm.services import callback_request_create
from crm.tests.factories import CallLogFactory, CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def advisor() -> tuple[Client, User]:
    user = User.objects.create_user("sam", "sam@example.com", "pw-not-secret-123", is_staff=True)
    user.groups.add(Group.objects.get(name="advisor"))
    client = Client()
    client.force_login(user)
    return client, user


def test_a_callback_request_links_the_call_log_and_the_callers_customer_record() -> None:
    call = CallLogFactory.create()
    request = callback_request_create(call_sid=call.call_sid, phone=call.from_number, message="  Brakes squeal. ")
    assert request.call == call and request.customer == call.customer
    assert request.message == "Brakes squeal." and request.phone == call.from_number and not request.done


def test_a_callback_request_from_a_call_without_a_log_finds_the_customer_by_number() -> None:
    customer = CustomerFactory.create(phone="+15550102000")
    request = callback_request_create(call_sid="CA-none", phone="+15550102000", message="Call me")
    assert request.call is None and request.call_sid == "CA-none" and request.customer == customer


def test_done_by_without_done_at_is_refused_by_the_database() -> None:
    user = User.objects.create_user("x")
    with pytest.raises(IntegrityError):
        CallbackRequest.objects.create(message="m", done_by=user)


def test_the_list_shows_open_requests_first_newest_first_with_a_link_to_the_call(advisor) -> None:
    client, _ = advisor
    now = timezone.now()
    call = CallLogFactory.create()
    old_open = CallbackRequest.objects.create(message="old open", created_at=now - timedelta(days=2), call=call)
    done = CallbackRequest.objects.create(message="done", created_at=now, done_at=now)
    new_open = CallbackRequest.objects.create(message="new open", created_at=now - timedelta(days=1))
    page = client.get(reverse("admin:crm_callbackrequest_changelist"))
    assert page.status_code == 200
    assert [r.pk for r in page.context["cl"].result_list] == [new_open.pk, old_open.pk, done.pk]
    assert reverse("admin:crm_calllog_change", args=[call.pk]) in page.content.decode()
    open_only = client.get(reverse("admin:crm_callbackrequest_changelist") + "?done=no")
    assert [r.pk for r in open_only.context["cl"].result_list] == [new_open.pk, old_open.pk]


def test_an_advisor_marks_requests_done_and_cannot_rewrite_what_the_caller_said(advisor) -> None:
    client, user = advisor
    request = CallbackRequest.objects.create(message="Call me about the brakes", phone="+15550102000")
    response = client.post(reverse("admin:crm_callbackrequest_changelist"),
                           {"action": "mark_done", "_selected_action": [str(request.pk)]})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.done_at is not None and request.done_by == user
    change = reverse("admin:crm_callbackrequest_change", args=[request.pk])
    assert client.get(change).status_code == 200
    client.post(change, {"message": "something else", "phone": "+15550109999"})
    request.refresh_from_db()
    assert request.message == "Call me about the brakes" and request.phone == "+15550102000"
    assert client.get(reverse("admin:crm_callbackrequest_add")).status_code == 403
