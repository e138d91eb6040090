"""When can a car come in? Free start times from the shop's hours, bays and what is already booked.

Pure functions over aware datetimes. Wall-clock times are built per day in the shop's timezone
(`datetime.combine(day, time, tzinfo=tz)`), so slots stay at 8:00, 8:30, ... across DST changes,
while durations are real elapsed time.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings

from scheduling.shop import bays, opening_window, shop_timezone, slot_length


@dataclass(frozen=True, slots=True)
class Interval:
    """[start, end) in aware datetimes."""

    start: datetime
    end: datetime

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and start < self.end


def closed_days() -> set[date]:
    """Holidays and other whole days the shop is closed (SHOP_CLOSED_DAYS)."""
    days = (str(day).strip() for day in getattr(settings, "SHOP_CLOSED_DAYS", []))
    return {date.fromisoformat(day) for day in days if day}


def lead_time() -> timedelta:
    return timedelta(minutes=int(getattr(settings, "SHOP_LEAD_TIME_MINUTES", 60)))


def horizon() -> timedelta:
    return timedelta(days=int(getattr(settings, "SHOP_BOOKING_DAYS", 60)))


def peak_overlap(intervals: Sequence[Interval], start: datetime, end: datetime) -> int:
    """The most intervals that overlap one another at any moment within [start, end)."""
    edges: list[tuple[datetime, int]] = []
    for interval in intervals:
        if interval.overlaps(start, end):
            edges.append((max(interval.start, start), 1))
            edges.append((min(interval.end, end), -1))
    edges.sort(key=lambda edge: (edge[0], edge[1]))  # an end before a start at the same instant
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def _day_starts(day: date, duration: timedelta) -> list[datetime]:
    """Slot-grid start times of one day at which a job of `duration` ends by closing time."""
    if day in closed_days():
        return []
    window = opening_window(day)
    if window is None:
        return []
    opens, closes = window
    step = slot_length()
    starts = []
    moment = opens
    while moment + duration <= closes:
        starts.append(moment)
        moment += step
    return starts


def free_starts(*, start_day: date, end_day: date, duration: timedelta, booked: Sequence[Interval],
                blocked: Sequence[Interval], now: datetime) -> list[datetime]:
    """Every bookable start for a job of `duration` between two shop days (inclusive)."""
    earliest = now + lead_time()
    latest = now + horizon()
    capacity = bays()
    relevant = sorted(booked, key=lambda interval: interval.start)
    out = []
    day = start_day
    while day <= end_day:
        for start in _day_starts(day, duration):
            end = start + duration
            if start < earliest or start > latest:
                continue
            if any(block.overlaps(start, end) for block in blocked):
                continue
            if peak_overlap(relevant, start, end) >= capacity:
                continue
            out.append(start)
        day += timedelta(days=1)
    return out


def why_not_bookable(start: datetime, duration: timedelta, *, booked: Sequence[Interval],
                     blocked: Sequence[Interval], now: datetime) -> str | None:
    """None if a job of `duration` can start at `start`, else a reason fit to say on the phone."""
    local = start.astimezone(shop_timezone())
    day = local.date()
    if start < now:
        return "That time is in the past."
    if start < now + lead_time():
        minutes = int(lead_time().total_seconds() // 60)
        return f"That's too soon; we need at least {minutes} minutes' notice."
    if start > now + horizon():
        return f"We only book up to {horizon().days} days ahead."
    if day in closed_days():
        return "We're closed that day."
    window = opening_window(day)
    if window is None:
        return f"We're closed on {local.strftime('%A')}s."
    opens, closes = window
    if start < opens:
        return f"We open at {opens.strftime('%-I:%M %p')} that day."
    if start + duration > closes:
        hours = duration.total_seconds() / 3600
        length = f"{hours:g} hours" if hours != 1 else "an hour"
        if duration < timedelta(hours=1):
            length = f"{int(duration.total_seconds() // 60)} minutes"
        return f"We close at {closes.strftime('%-I:%M %p')} that day, and that service takes {length}."
    if (start - opens) % slot_length():
        return f"Please pick a start on the {int(slot_length().total_seconds() // 60)}-minute grid, like 9:00 or 9:30."
    if any(block.overlaps(start, start + duration) for block in blocked):
        return "The shop is closed to bookings at that time."
    if peak_overlap(booked, start, start + duration) >= bays():
        return "That time is fully booked."
    return None
