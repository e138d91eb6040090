"""List filters of the service desk: days as the shop counts them, what the agent did, calendar sync. The
front page's numbers link to lists filtered by these."""

from datetime import date, timedelta
from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from crm.dashboard import parse_day
from crm.formatting import day_words
from crm.models import AppointmentAction, CalendarSync
from scheduling.shop import day_window, shop_today


class ShopDayFilter(admin.SimpleListFilter):
    """One shop day (its own timezone, not UTC) of `field`: today, yesterday, or any ISO day (`?day=2026-12-15`,
    as the front page links)."""

    title = "day"
    parameter_name = "day"
    field = "started_at"
    named_days: tuple[tuple[str, str, int], ...] = (("today", "Today", 0), ("yesterday", "Yesterday", -1))

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        choices = [(value, label) for value, label, _ in self.named_days]
        day = parse_day(self.value())
        if day is not None:
            choices.append((day.isoformat(), day_words(day)))
        return choices

    def day(self) -> date | None:
        offsets = {value: offset for value, _, offset in self.named_days}
        value = self.value() or ""
        if value in offsets:
            return shop_today() + timedelta(days=offsets[value])
        return parse_day(value)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        day = self.day()
        if day is None:
            return queryset
        start, end = day_window(day)
        return queryset.filter(**{f"{self.field}__gte": start, f"{self.field}__lt": end})


class CallDayFilter(ShopDayFilter):
    """Calls by the shop day they started."""

    field = "started_at"


class AppointmentDayFilter(ShopDayFilter):
    """Appointments by the shop day they are for; also the next seven days and the past."""

    field = "scheduled_at"
    named_days = (("today", "Today", 0), ("tomorrow", "Tomorrow", 1))

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        choices = super().lookups(request, model_admin)
        return [*choices[:2], ("next7", "Next 7 days"), ("past", "Past"), *choices[2:]]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "next7":
            return queryset.filter(scheduled_at__gte=timezone.now(),
                                   scheduled_at__lt=day_window(shop_today() + timedelta(days=7))[1])
        if self.value() == "past":
            return queryset.filter(scheduled_at__lt=timezone.now())
        return super().queryset(request, queryset)


class AgentActionFilter(admin.SimpleListFilter):
    """Appointments a call booked, moved, cancelled or confirmed: ever (`?agent=booked`) or on one shop day
    (`?agent=booked@2026-12-15`, as the front page links)."""

    title = "changed by a call"
    parameter_name = "agent"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        choices = [(str(value), str(label)) for value, label in AppointmentAction.choices]
        parsed = self.parsed()
        if parsed is not None:
            action, day = parsed
            if day is not None:
                label = f"{AppointmentAction(action).label} on {day_words(day)}"
                choices.append((f"{action}@{day.isoformat()}", label))
        return choices

    def parsed(self) -> tuple[str, date | None] | None:
        action, _, day_text = (self.value() or "").partition("@")
        if action not in AppointmentAction.values:
            return None
        return action, parse_day(day_text)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        parsed = self.parsed()
        if parsed is None:
            return queryset
        action, day = parsed
        made = Q(call_actions__action=action)
        if day is not None:
            start, end = day_window(day)
            made &= Q(call_actions__at__gte=start, call_actions__at__lt=end)
        return queryset.filter(pk__in=queryset.model.objects.filter(made).values("pk"))


class CalendarSyncFilter(admin.SimpleListFilter):
    """Whether the shop calendar has the booking yet; "waiting" is every booking not in it (pending or failing)."""

    title = "calendar"
    parameter_name = "calendar"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("waiting", "Not in the calendar yet"), *((str(v), str(label)) for v, label in CalendarSync.choices)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "waiting":
            return queryset.filter(calendar_sync__in=[CalendarSync.PENDING, CalendarSync.FAILED])
        if self.value() in CalendarSync.values:
            return queryset.filter(calendar_sync=self.value())
        return queryset


class CallbackDoneFilter(admin.SimpleListFilter):
    """Callback requests still to call back, or done."""

    title = "status"
    parameter_name = "done"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Open"), ("yes", "Done")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("no", "yes"):
            return queryset.filter(done_at__isnull=self.value() == "no")
        return queryset


