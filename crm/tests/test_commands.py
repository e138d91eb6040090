"""Small operator commands."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_demo_staff_login_is_created_once_and_can_log_in(settings) -> None:
    settings.DEBUG = True
    out = StringIO()
    call_command("create_demo_staff", stdout=out)
    call_command("create_demo_staff", stdout=out)
    assert User.objects.filter(username="advisor", is_staff=True).count() == 1
    assert User.objects.get(username="advisor").check_password("bart-demo-2026")
    assert "advisor / bart-demo-2026" in out.getvalue()


def test_the_demo_login_is_an_advisor_not_a_superuser(settings) -> None:
    settings.DEBUG = True
    call_command("create_demo_staff", stdout=StringIO())
    user = User.objects.get(username="advisor")
    assert user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == ["advisor"]
    assert user.has_perm("crm.change_appointment") and not user.has_perm("crm.delete_calllog")
    assert not user.has_perm("auth.view_user")


def test_an_older_superuser_demo_login_is_brought_down_to_an_advisor(settings) -> None:
    settings.DEBUG = True
    User.objects.create_superuser("advisor", "advisor@example.com", "bart-demo-2026")
    call_command("create_demo_staff", stdout=StringIO())
    user = User.objects.get(username="advisor")
    assert user.is_staff and not user.is_superuser
    assert user.groups.filter(name="advisor").exists() and Group.objects.get(name="advisor").user_set.count() == 1


def test_demo_staff_is_refused_in_production(settings) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("create_demo_staff", stdout=StringIO())
    assert not User.objects.exists()
