"""The admin's front page as the service desk: today's board and the day's numbers, from every app (the
CRM's appointments and calls, the reminder calls, the task queue), so it lives above them all."""

from datetime import date

from django.contrib import admin
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django_q.models import Failure

from crm.dashboard import DeskNumber, board_for_day, changelist_url, crm_numbers, parse_day
from reminders.models import ReminderAttempt, ReminderOutcome
from scheduling.shop import day_window, shop_today


def reminder_numbers(day: date) -> DeskNumber:
    """The reminder calls made for `day`'s run, by what came of them."""
    rows = dict(ReminderAttempt.objects.filter(reminder_date=day).values_list("outcome")
                .annotate(n=Count("id")).order_by())
    iso, after = day.isoformat(), date.fromordinal(day.toordinal() + 1).isoformat()
    parts = [DeskNumber(str(ReminderOutcome(value).label).lower(), str(count),
                        changelist_url("reminders.reminderattempt", reminder_date__gte=iso, reminder_date__lt=after,
                                       outcome__exact=value))
             for value, count in sorted(rows.items(), key=lambda row: -row[1])]
    return DeskNumber("Reminder calls", str(sum(rows.values())),
                      changelist_url("reminders.reminderattempt", reminder_date__gte=iso, reminder_date__lt=after),
                      parts=parts)


def failure_number(day: date, request: HttpRequest) -> DeskNumber:
    """Background tasks that failed on `day` (the list is linked only for who may see the task queue)."""
    start, end = day_window(day)
    failed = Failure.objects.filter(stopped__gte=start, stopped__lt=end).count()
    allowed = request.user.has_perm("django_q.view_failure")
    url = changelist_url("django_q.failure", stopped__gte=start.isoformat(), stopped__lt=end.isoformat()) \
        if allowed else None
    return DeskNumber("Failed background tasks", str(failed), url)


def desk_context(request: HttpRequest) -> dict[str, object]:
    """The board and numbers of the day asked for (`?day=2026-12-15`), today in the shop by default."""
    day = parse_day(request.GET.get("day")) or shop_today()
    numbers = [*crm_numbers(day), reminder_numbers(day), failure_number(day, request)]
    return {"board": board_for_day(day), "numbers": numbers}


def desk_index(request: HttpRequest) -> HttpResponse:
    """The admin index with the service desk on top (the stock app list stays below)."""
    return admin.site.index(request, extra_context=desk_context(request))
