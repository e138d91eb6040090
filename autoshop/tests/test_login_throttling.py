"""Repeated wrong passwords on the admin login lock that username from that address (django-axes)."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from autoshop.client_ip import client_ip

pytestmark = pytest.mark.django_db

PASSWORD = "pw-not-secret-123"


def _login(client: Client, username: str, password: str, ip: str = "203.0.113.7") -> int:
    response = client.post(reverse("admin:login"), {"username": username, "password": password,
                                                    "next": "/admin/"}, REMOTE_ADDR=ip)
    return response.status_code


@pytest.fixture
def staff_user() -> User:
    return User.objects.create_user("sam", "sam@example.com", PASSWORD, is_staff=True)


def test_the_sixth_attempt_after_five_wrong_passwords_is_locked_out_even_with_the_right_one(staff_user) -> None:
    client = Client()
    statuses = [_login(client, "sam", "wrong-guess") for _ in range(4)]
    assert statuses == [200] * 4  # the form again, "please enter the correct username and password"
    assert _login(client, "sam", "wrong-guess") == 429  # the fifth failure reaches AXES_FAILURE_LIMIT
    assert _login(client, "sam", PASSWORD) == 429  # the sixth: locked, the right password does not help
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_per_username_and_address_and_ends_after_the_cool_off(staff_user) -> None:
    User.objects.create_user("alex", "alex@example.com", PASSWORD, is_staff=True)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(5):
            _login(Client(), "sam", "wrong-guess")
        assert _login(Client(), "sam", PASSWORD) == 429
        assert _login(Client(), "sam", PASSWORD, ip="198.51.100.9") == 302  # same user, another desk
        assert _login(Client(), "alex", PASSWORD) == 302  # another advisor at the same address
        clock.shift(timedelta(minutes=59))
        assert _login(Client(), "sam", PASSWORD) == 429  # still locked; and trying again restarts the hour
        clock.shift(timedelta(minutes=59))
        assert _login(Client(), "sam", PASSWORD) == 429
        clock.shift(timedelta(minutes=61))  # an hour without attempts: the cool-off is over
        assert _login(Client(), "sam", PASSWORD) == 302


def test_a_correct_password_resets_the_count(staff_user) -> None:
    for _ in range(4):
        _login(Client(), "sam", "wrong-guess")
    assert _login(Client(), "sam", PASSWORD) == 302
    for _ in range(4):
        assert _login(Client(), "sam", "wrong-guess") == 200


def test_the_client_address_behind_trusted_proxies_is_read_from_the_right_of_x_forwarded_for(settings) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2",
                                   HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7, 10.0.0.1")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 2  # the load balancer, then an internal proxy: the client is 2nd from right
    assert client_ip(request) == "203.0.113.7"  # never the spoofable left-most entry
    settings.TRUSTED_PROXY_COUNT = 5
    assert client_ip(request) == "10.0.0.2"
