"""Today at a glance, for the admin's front page: the day's appointments by hour with the bays they hold,
and the day's numbers, each with the filtered admin list behind it."""

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django.db.models import Count, QuerySet
from django.urls import reverse

from crm.formatting import day_words, shop_clock
from crm.models import (
    BAY_STATUSES,
    Appointment,
    AppointmentAction,
    AppointmentStatus,
    CalendarSync,
    CallAppointment,
    CallbackRequest,
    CallDirection,
    CallLog,
    CallOutcome,
)
from scheduling.shop import bays, day_window, shop_timezone, shop_today

FOLDED_STATUSES = (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)  # off the board, one click away


def parse_day(text: str | None) -> date | None:
    """An ISO day from a query string ("2026-12-15"), or None when there is none or it is no date."""
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def changelist_url(model: str, **filters: str) -> str:
    """The admin list of `model` ("crm.calllog") with these filters applied, as a link."""
    app_label, model_name = model.split(".")
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


@dataclass(frozen=True, slots=True)
class BoardHour:
    """The appointments starting in one hour of the day, and the most bays in use at once during it."""

    start: datetime
    appointments: list[Appointment]
    bays_used: int
    bays: int

    @property
    def label(self) -> str:
        return shop_clock(self.start).replace(":00", "")

    @property
    def full(self) -> bool:
        return self.bays_used >= self.bays


@dataclass(frozen=True, slots=True)
class Board:
    """One shop day's appointments: the live ones by hour, cancellations and no-shows folded away."""

    day: date
    hours: list[BoardHour]
    folded: list[Appointment]
    today: date

    @property
    def label(self) -> str:
        return day_words(self.day)

    @property
    def previous_day(self) -> date:
        return self.day - timedelta(days=1)

    @property
    def next_day(self) -> date:
        return self.day + timedelta(days=1)

    @property
    def count(self) -> int:
        return sum(len(hour.appointments) for hour in self.hours)


def peak_overlap(intervals: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> int:
    """The most of `intervals` that overlap at one instant within [start, end)."""
    events: list[tuple[datetime, int]] = []
    for begins, ends in intervals:
        begins, ends = max(begins, start), min(ends, end)
        if begins < ends:
            events += [(begins, 1), (ends, -1)]
    peak = running = 0
    for _, step in sorted(events):  # an end sorts before a start at the same instant: back to back is one bay
        running += step
        peak = max(peak, running)
    return peak


def board_for_day(day: date) -> Board:
    """The board of one shop day (its own timezone): appointments in time order grouped by starting hour,
    each hour with its bay load (appointments that hold a bay: scheduled, confirmed, arrived)."""
    start, end = day_window(day)
    appointments = list(
        Appointment.objects.filter(scheduled_at__lt=end, scheduled_at__gte=start - timedelta(hours=12))
        .select_related("customer", "vehicle").order_by("scheduled_at", "id"))
    holding = [(a.scheduled_at, a.ends_at) for a in appointments if a.status in BAY_STATUSES]
    todays = [a for a in appointments if a.scheduled_at >= start]
    tz = shop_timezone()
    by_hour: dict[datetime, list[Appointment]] = {}
    for appointment in todays:
        if appointment.status in FOLDED_STATUSES:
            continue
        local = appointment.scheduled_at.astimezone(tz)
        by_hour.setdefault(local.replace(minute=0, second=0, microsecond=0), []).append(appointment)
    shop_bays = bays()
    hours = [BoardHour(start=hour, appointments=rows, bays=shop_bays,
                       bays_used=peak_overlap(holding, hour, hour + timedelta(hours=1)))
             for hour, rows in by_hour.items()]
    folded = [a for a in todays if a.status in FOLDED_STATUSES]
    return Board(day=day, hours=hours, folded=folded, today=shop_today())


@dataclass(frozen=True, slots=True)
class DeskNumber:
    """One figure of the day, and the admin list that shows the rows behind it (None: not for this user)."""

    label: str
    value: str
    url: str | None = None
    parts: list["DeskNumber"] = field(default_factory=list)


def percentile(values: list[int], share: float) -> int | None:
    """The nearest-rank percentile (share 0.5 → p50) of `values`, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def _calls(start: datetime, end: datetime) -> QuerySet[CallLog]:
    return CallLog.objects.filter(started_at__gte=start, started_at__lt=end)


def agent_action_counts(day: date) -> dict[str, int]:
    """How many appointments calls booked, moved, cancelled or confirmed on `day`, by action."""
    start, end = day_window(day)
    rows = (CallAppointment.objects.filter(at__gte=start, at__lt=end).values("action")
            .annotate(n=Count("appointment", distinct=True)).order_by())
    return {row["action"]: row["n"] for row in rows}


def reply_latency_ms(day: date) -> list[int]:
    """Every turn's reply latency (speech end to first audio, `total_ms`) on the calls of `day`."""
    totals = []
    for turns in _calls(*day_window(day)).exclude(latency=[]).values_list("latency", flat=True):
        for turn in turns or []:
            total = turn.get("total_ms") if isinstance(turn, dict) else None
            if isinstance(total, int | float):
                totals.append(int(total))
    return totals


def crm_numbers(day: date) -> list[DeskNumber]:
    """The CRM's figures for `day` (calls, the agent's bookings, callbacks, latency, calendar sync)."""
    start, end = day_window(day)
    iso = day.isoformat()
    calls = _calls(start, end)
    by_outcome = dict(calls.values_list("outcome").annotate(n=Count("id")).order_by())
    answered = calls.filter(direction=CallDirection.INBOUND).count()
    actions = agent_action_counts(day)
    latencies = reply_latency_ms(day)
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    waiting = CallbackRequest.objects.filter(done_at__isnull=True).count()
    sync = dict(Appointment.objects.filter(calendar_sync__in=[CalendarSync.PENDING, CalendarSync.FAILED])
                .values_list("calendar_sync").annotate(n=Count("id")).order_by())

    def agent(action: str, label: str) -> DeskNumber:
        url = changelist_url("crm.appointment", agent=f"{action}@{iso}")
        return DeskNumber(label, str(actions.get(action, 0)), url)

    def outcome(value: str, label: str) -> DeskNumber:
        return DeskNumber(label, str(by_outcome.get(value, 0)),
                          changelist_url("crm.calllog", day=iso, outcome__exact=value))

    return [
        DeskNumber("Calls answered", str(answered),
                   changelist_url("crm.calllog", day=iso, direction__exact=CallDirection.INBOUND)),
        agent(AppointmentAction.BOOKED, "Booked by the agent"),
        agent(AppointmentAction.MOVED, "Moved by the agent"),
        agent(AppointmentAction.CANCELLED, "Cancelled by the agent"),
        outcome(CallOutcome.TRANSFERRED, "Transferred to staff"),
        outcome(CallOutcome.ABANDONED, "Caller hung up"),
        outcome(CallOutcome.BOOKING_FAILED, "Booking attempts failed"),
        DeskNumber("Callbacks waiting", str(waiting), changelist_url("crm.callbackrequest", done="no")),
        DeskNumber("Reply latency p50 / p95",
                   f"{p50} / {p95} ms" if p50 is not None else "none", changelist_url("crm.calllog", day=iso)),
        DeskNumber("Waiting for calendar sync", str(sum(sync.values())),
                   changelist_url("crm.appointment", calendar="waiting"), parts=[
                       DeskNumber("failing", str(sync.get(CalendarSync.FAILED, 0)),
                                  changelist_url("crm.appointment", calendar=CalendarSync.FAILED))]),
    ]
