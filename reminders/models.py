"""Reminder calls: one attempt per appointment and day, claimed before anyone dials."""

from django.db import models

from crm.models import Appointment


class ReminderOutcome(models.TextChoices):
    PENDING = "pending", "Claimed, not dialled yet"
    DIALLING = "dialling", "Dialling"
    ANSWERED = "answered", "Answered"
    CONFIRMED = "confirmed", "Confirmed"
    RESCHEDULED = "rescheduled", "Rescheduled"
    CANCELLED = "cancelled", "Cancelled"
    VOICEMAIL = "voicemail", "Left voicemail"
    NO_ANSWER = "no_answer", "No answer"
    BUSY = "busy", "Busy"
    SKIPPED_SAFE_MODE = "skipped_safe_mode", "Skipped (safe mode)"
    FAILED = "failed", "Failed"


class ReminderAttempt(models.Model):
    """One reminder call (or decision not to call) for one appointment on one day."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="reminder_attempts")
    reminder_date = models.DateField(help_text="The shop-local day the reminder run was for.")
    to_number = models.CharField(max_length=32)
    claimed_at = models.DateTimeField(auto_now_add=True)
    dialled_at = models.DateTimeField(null=True, blank=True)
    call_sid = models.CharField(max_length=64, blank=True, db_index=True)
    outcome = models.CharField(max_length=20, choices=ReminderOutcome.choices, default=ReminderOutcome.PENDING)
    answered_by = models.CharField(max_length=32, blank=True)
    detail = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-reminder_date", "-id"]
        constraints = [
            # The exactly-once claim: a second run, worker or catch-up cannot claim the same call.
            models.UniqueConstraint(fields=["appointment", "reminder_date"], name="reminders_one_attempt_per_day"),
            models.CheckConstraint(condition=models.Q(outcome__in=ReminderOutcome.values),
                                   name="reminders_outcome_known"),
        ]

    def __str__(self) -> str:
        return f"Reminder for appointment {self.appointment_id} on {self.reminder_date}: {self.outcome}"
