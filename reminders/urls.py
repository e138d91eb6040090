"""Reminder-call webhooks, mounted under /twilio/reminder/."""

from django.urls import path

from reminders import views

urlpatterns = [
    path("<int:attempt_id>", views.reminder_answered, name="reminder-answered"),
    path("<int:attempt_id>/status", views.reminder_status, name="reminder-status"),
    path("<int:attempt_id>/amd", views.reminder_amd, name="reminder-amd"),
]
