"""Reminder attempts in admin, and "call now" on appointments (same safe mode, same once-a-day claim)."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from crm.admin import AppointmentAdmin
from crm.models import ACTIVE_STATUSES, Appointment
from reminders.models import ReminderAttempt, ReminderOutcome
from reminders.services import reminder_claim, reminder_dial
from scheduling.shop import shop_today
from telephony.rest import twilio_client


@admin.register(ReminderAttempt)
class ReminderAttemptAdmin(admin.ModelAdmin):
    """What each reminder call did; written by the runs and Twilio's callbacks, read by staff. Nobody adds,
    edits or deletes one here (superusers included); `manage.py purge_records` removes old ones."""

    list_display = ("appointment", "reminder_date", "to_number", "outcome", "answered_by", "dialled_at")
    list_filter = ("outcome", "reminder_date")
    list_select_related = ("appointment",)
    search_fields = ("=call_sid", "=to_number")
    date_hierarchy = "reminder_date"
    readonly_fields = [f.name for f in ReminderAttempt._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReminderAttemptInline(admin.TabularInline):
    model = ReminderAttempt
    extra = 0
    fields = ("reminder_date", "to_number", "outcome", "answered_by", "dialled_at", "detail")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.action(description="Call now with a reminder (safe mode applies; once per day)")
def call_now(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Appointment]) -> None:
    """Place a reminder call now for each selected upcoming appointment, claimed for today."""
    today = shop_today()
    client = twilio_client()
    for appointment in queryset.select_related("customer").order_by("scheduled_at", "pk"):
        if appointment.status not in ACTIVE_STATUSES or appointment.scheduled_at < timezone.now():
            modeladmin.message_user(request, f"Appointment {appointment.pk} is not upcoming "
                                    f"({appointment.get_status_display()}); nobody was called.", messages.WARNING)
            continue
        attempt = reminder_claim(appointment=appointment, day=today)
        if attempt is None:
            modeladmin.message_user(request, f"Appointment {appointment.pk} already had a reminder call today.",
                                    messages.WARNING)
            continue
        attempt = reminder_dial(attempt=attempt, client=client)
        level = messages.SUCCESS if attempt.outcome == ReminderOutcome.DIALLING else messages.WARNING
        detail = f" ({attempt.detail})" if attempt.detail else ""
        modeladmin.message_user(request, f"Appointment {appointment.pk}: {attempt.get_outcome_display()}{detail}.",
                                level)


class AppointmentWithRemindersAdmin(AppointmentAdmin):
    """The CRM's appointment admin, plus the reminder history and the call-now action. Registered from
    here so that crm never imports reminders (dependencies point one way)."""

    inlines = (*AppointmentAdmin.inlines, ReminderAttemptInline)
    # mypy cannot read a generic ModelAdmin's class attribute; the CRM's own actions stay first.
    actions = (*(AppointmentAdmin.actions or ()), call_now)  # type: ignore[misc]


admin.site.unregister(Appointment)
admin.site.register(Appointment, AppointmentWithRemindersAdmin)
