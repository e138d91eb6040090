"""django-q2 entry points for texts (ids in, services called). They never raise for Twilio's errors:
the message is recorded as failed instead, and a retried task would text the customer twice."""

from texts.services import appointment_text_send, reminder_text_send


def send_appointment_text(appointment_id: int, action: str) -> str:
    """The customer's text about a booking, move or cancellation; returns the message's status."""
    message = appointment_text_send(appointment_id=appointment_id, action=action)
    return message.status if message is not None else "not sent: nothing to say"


def send_reminder_text(appointment_id: int) -> str:
    """The reminder text after a reminder call that reached no one; returns the message's status."""
    message = reminder_text_send(appointment_id=appointment_id)
    return message.status if message is not None else "not sent: nothing to remind"
