"""The reminders app: the daily reminder calls."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save


class RemindersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reminders"

    def ready(self) -> None:
        from django.core import checks

        from crm.models import CallLog
        from reminders.checks import check_reminder_settings
        from reminders.signals import create_daily_schedule, follow_call_log

        checks.register(check_reminder_settings)
        post_save.connect(follow_call_log, sender=CallLog, dispatch_uid="reminders.follow_call_log")
        post_migrate.connect(create_daily_schedule, sender=self, dispatch_uid="reminders.create_daily_schedule")
