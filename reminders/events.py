"""What reminder calls announce to the rest of the product (the follow-up text listens here), so that
reminders never imports the apps that react to a call."""

from django.dispatch import Signal

# Sent once committed, when a reminder call reached no one: no answer, busy, or an answering machine.
# Arguments: `attempt_id`, `appointment_id`, `outcome` (a `ReminderOutcome` value).
reminder_unanswered = Signal()
