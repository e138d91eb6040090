"""The caller lookup reads the cache (`customer:{phone}`, 5 minutes) before the database."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.selectors import CUSTOMER_CACHE_TTL, customer_cache_key, customer_get_by_phone
from crm.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_second_lookup_is_served_from_the_cache() -> None:
    customer = CustomerFactory.create(phone="+15550102000", name="Ned Flanders")
    with CaptureQueriesContext(connection) as cold:
        first = customer_get_by_phone("+15550102000")
    with CaptureQueriesContext(connection) as warm:
        second = customer_get_by_phone("+15550102000")
    assert first == second == {"id": customer.pk, "name": "Ned Flanders", "phone": "+15550102000",
                               "email": customer.email}
    assert len(cold.captured_queries) == 1 and len(warm.captured_queries) == 0
    assert cache.get(customer_cache_key("+15550102000")) == first
    assert CUSTOMER_CACHE_TTL == 300


def test_unknown_numbers_are_cached_too() -> None:
    assert customer_get_by_phone("+15550109999") is None
    with CaptureQueriesContext(connection) as warm:
        assert customer_get_by_phone("+15550109999") is None
    assert len(warm.captured_queries) == 0


def test_editing_a_customer_refreshes_the_cached_entry() -> None:
    customer = CustomerFactory.create(phone="+15550102000", name="Ned")
    customer_get_by_phone("+15550102000")
    customer.name = "Ned Flanders"
    customer.save()
    assert (customer_get_by_phone("+15550102000") or {}).get("name") == "Ned Flanders"
