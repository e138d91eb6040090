"""Receivers that keep reminder attempts in step with the rest of the shop (connected in apps.py)."""

from typing import Any

from django.db import DatabaseError, connections, router

from crm.models import CallLog


def follow_call_log(sender: type[CallLog], instance: CallLog, **kwargs: Any) -> None:
    """The agent stored how a call ended: a reminder call takes the same result."""
    from reminders.services import reminder_follow_call_log

    reminder_follow_call_log(call_log=instance)


def create_daily_schedule(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """After `migrate`: make sure the daily reminder schedule exists (once the django-q tables do)."""
    from django_q.models import Schedule

    from reminders.tasks import ensure_daily_schedule

    if not router.allow_migrate_model(using, Schedule):
        return
    try:
        tables = connections[using].introspection.table_names()
    except DatabaseError:
        return
    if Schedule._meta.db_table in tables:
        ensure_daily_schedule(using=using)
