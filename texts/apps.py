"""The texts app: text messages to and from customers (confirmations, reminder follow-ups, replies)."""

from django.apps import AppConfig


class TextsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "texts"
    verbose_name = "Text messages"

    def ready(self) -> None:
        from django.core import checks

        from crm.events import appointment_changed
        from reminders.events import reminder_unanswered
        from texts.checks import check_text_settings
        from texts.receivers import queue_appointment_text, queue_reminder_text

        checks.register(check_text_settings)
        appointment_changed.connect(queue_appointment_text, dispatch_uid="texts.queue_appointment_text")
        reminder_unanswered.connect(queue_reminder_text, dispatch_uid="texts.queue_reminder_text")
