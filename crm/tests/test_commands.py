"""Small operator commands."""

from io import StringIO

import pytest
from django.contrib.auth.models import User
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


def test_demo_staff_is_refused_in_production(settings) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("create_demo_staff", stdout=StringIO())
    assert not User.objects.exists()
