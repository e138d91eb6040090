"""Reads of CRM data, tuned for the phone path."""

from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db import close_old_connections

from crm.models import Customer

CUSTOMER_CACHE_TTL = 300  # seconds: a caller's record is read once per call, edits show within 5 minutes
_MISSING = "__none__"


def customer_cache_key(phone: str) -> str:
    return f"customer:{phone}"


def _customer_summary(customer: Customer) -> dict[str, Any]:
    return {"id": customer.pk, "name": customer.name, "phone": customer.phone, "email": customer.email}


def customer_get_by_phone(phone: str) -> dict[str, Any] | None:
    """The customer with this E.164 number as a small dict, from the cache or else the database."""
    key = customer_cache_key(phone)
    cached = cache.get(key)
    if cached is not None:
        return None if cached == _MISSING else cached
    customer = Customer.objects.filter(phone=phone).only("id", "name", "phone", "email").first()
    summary = _customer_summary(customer) if customer else None
    cache.set(key, summary if summary else _MISSING, CUSTOMER_CACHE_TTL)
    return summary


def _customer_get_by_phone_in_thread(phone: str) -> dict[str, Any] | None:
    try:
        return customer_get_by_phone(phone)
    finally:
        close_old_connections()  # worker threads must not hold database connections open


async def acustomer_get_by_phone(phone: str) -> dict[str, Any] | None:
    """Async form of `customer_get_by_phone` for the call loop."""
    return await sync_to_async(_customer_get_by_phone_in_thread, thread_sensitive=False)(phone)


def customer_cache_forget(phone: str) -> None:
    """Drop the cached entry after the customer's record changed."""
    cache.delete(customer_cache_key(phone))


def appointment_for_reminder(appointment_id: int, phone: str | None) -> dict[str, Any] | None:
    """The appointment a reminder call is about, only if it belongs to the number being called."""
    from crm.models import ACTIVE_STATUSES, Appointment

    appointment = (Appointment.objects.select_related("customer", "vehicle")
                   .filter(pk=appointment_id, status__in=ACTIVE_STATUSES).first())
    if appointment is None or appointment.customer.phone != phone:
        return None
    vehicle = appointment.vehicle
    return {
        "appointment_id": appointment.pk,
        "service": appointment.get_service_type_display(),
        "scheduled_at": appointment.scheduled_at,
        "vehicle": f"{vehicle.year} {vehicle.make} {vehicle.model}".strip() if vehicle else "car",
    }
