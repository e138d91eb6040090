"""Who may do what in admin: the advisor group runs the desk and touches nothing else; call logs are
records nobody edits or deletes there, superusers included."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.urls import reverse

from crm.models import CallLog, Customer
from crm.tests.factories import CallLogFactory, CustomerFactory

pytestmark = pytest.mark.django_db

ADVISOR_PERMISSIONS = {
    "crm.view_customer", "crm.add_customer", "crm.change_customer",
    "crm.view_vehicle", "crm.add_vehicle", "crm.change_vehicle",
    "crm.view_appointment", "crm.add_appointment", "crm.change_appointment",
    "crm.view_calllog",
    "crm.view_callbackrequest", "crm.change_callbackrequest",
    "reminders.view_reminderattempt",
}


@pytest.fixture
def advisor() -> Client:
    """A service advisor: staff, in the advisor group (made by a migration), not a superuser."""
    user = User.objects.create_user("sam", "sam@example.com", "pw-not-secret-123", is_staff=True)
    user.groups.add(Group.objects.get(name="advisor"))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("owner", "owner@example.com", "pw-not-secret-123"))
    return client


def test_the_advisor_group_has_exactly_what_the_desk_needs() -> None:
    group = Group.objects.get(name="advisor")
    granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
    assert granted == ADVISOR_PERMISSIONS
    assert not Permission.objects.filter(group=group, content_type__app_label__in=["auth", "django_q", "axes"])


@pytest.mark.parametrize("url_name", [
    "admin:auth_user_changelist", "admin:auth_group_changelist", "admin:auth_user_add",
    "admin:django_q_success_changelist", "admin:django_q_failure_changelist",
    "admin:django_q_schedule_changelist", "admin:django_q_ormq_changelist",
    "admin:axes_accessattempt_changelist", "admin:axes_accesslog_changelist",
    "admin:axes_accessfailurelog_changelist",
])
def test_an_advisor_is_refused_users_groups_task_tables_and_login_records(advisor: Client, url_name: str) -> None:
    from django.conf import settings

    if url_name == "admin:django_q_ormq_changelist" and "orm" not in settings.Q_CLUSTER:
        pytest.skip("django-q2 shows its ORM queue in admin only with the ORM broker (REDIS_URL is set)")
    assert advisor.get(reverse(url_name)).status_code == 403


@pytest.mark.parametrize("model", ["customer", "vehicle", "appointment", "calllog", "callbackrequest"])
def test_an_advisor_opens_the_desk_lists(advisor: Client, model: str) -> None:
    CallLogFactory.create()
    assert advisor.get(reverse(f"admin:crm_{model}_changelist")).status_code == 200


def test_an_advisor_adds_and_edits_customers_but_cannot_delete_them(advisor: Client) -> None:
    response = advisor.post(reverse("admin:crm_customer_add"), {
        "name": "Pat Lee", "phone": "+15550102000", "email": "", "address": "", "city": "", "state": "",
        "zip_code": "", **_empty_inlines()})
    assert response.status_code == 302, response.content.decode()[:2000]
    customer = Customer.objects.get(phone="+15550102000")
    assert advisor.get(reverse("admin:crm_customer_change", args=[customer.pk])).status_code == 200
    assert advisor.post(reverse("admin:crm_customer_delete", args=[customer.pk]), {"post": "yes"}).status_code == 403
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_an_advisor_reads_a_call_log_but_gets_403_on_its_delete_and_edit(advisor: Client) -> None:
    call = CallLogFactory.create()
    assert advisor.get(reverse("admin:crm_calllog_change", args=[call.pk])).status_code == 200
    delete = reverse("admin:crm_calllog_delete", args=[call.pk])
    assert advisor.get(delete).status_code == 403
    assert advisor.post(delete, {"post": "yes"}).status_code == 403
    assert advisor.post(reverse("admin:crm_calllog_change", args=[call.pk]), {"outcome": "booked"}).status_code == 403
    assert CallLog.objects.filter(pk=call.pk).exists()


def test_a_superuser_sees_no_delete_or_change_on_call_logs(superuser: Client) -> None:
    call = CallLogFactory.create()
    delete = reverse("admin:crm_calllog_delete", args=[call.pk])
    page = superuser.get(reverse("admin:crm_calllog_change", args=[call.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert delete not in html and 'name="_save"' not in html  # no delete link, no save button
    assert page.context["has_delete_permission"] is False and page.context["has_change_permission"] is False
    assert superuser.get(delete).status_code == 403
    assert superuser.post(delete, {"post": "yes"}).status_code == 403
    listing = superuser.get(reverse("admin:crm_calllog_changelist"))
    assert "delete_selected" not in html and "delete_selected" not in listing.content.decode()
    bulk = superuser.post(reverse("admin:crm_calllog_changelist"),
                          {"action": "delete_selected", "_selected_action": [str(call.pk)], "post": "yes"})
    assert bulk.status_code in (200, 302)  # "no action selected", nothing deleted
    assert CallLog.objects.filter(pk=call.pk).exists()


def test_a_customers_call_logs_cannot_be_deleted_from_the_customer_page(superuser: Client) -> None:
    customer = CustomerFactory.create()
    CallLogFactory.create(customer=customer)
    page = superuser.get(reverse("admin:crm_customer_change", args=[customer.pk]))
    assert page.status_code == 200
    assert 'name="calls-0-DELETE"' not in page.content.decode()


def _empty_inlines() -> dict[str, str]:
    """The management forms of the customer page's inlines, with no rows."""
    form: dict[str, str] = {}
    for prefix in ("vehicles", "appointments", "calls", "texts"):
        form.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0",
                     f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"})
    return form
