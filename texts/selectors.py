"""Reads for texts: the appointment a customer's "C" confirms, and what was texted lately."""

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from crm.models import ACTIVE_STATUSES, Appointment, Customer, SmsDirection, SmsMessage

REMINDER_KIND = "reminder"


def appointment_reminded_by_text(customer: Customer) -> Appointment | None:
    """The customer's next upcoming, still active appointment that a reminder text was sent about."""
    return (Appointment.objects.select_related("customer", "vehicle")
            .filter(customer=customer, status__in=ACTIVE_STATUSES, scheduled_at__gte=timezone.now(),
                    texts__kind=REMINDER_KIND, texts__direction=SmsDirection.OUTBOUND)
            .order_by("scheduled_at", "pk").first())


def texts_to_number_since(phone: str, kind: str, since: timedelta) -> QuerySet[SmsMessage]:
    """Texts of `kind` to `phone` recorded in the last `since`."""
    return SmsMessage.objects.filter(direction=SmsDirection.OUTBOUND, to_number=phone, kind=kind,
                                     created_at__gte=timezone.now() - since)


def reminder_texted_since(appointment_id: int, since: timedelta) -> bool:
    """Whether a reminder text about this appointment was recorded in the last `since`."""
    return SmsMessage.objects.filter(direction=SmsDirection.OUTBOUND, appointment_id=appointment_id,
                                     kind=REMINDER_KIND, created_at__gte=timezone.now() - since).exists()
