"""What the shop's records announce to the rest of the product (texts to customers listen here), so that
the apps that change appointments never import the apps that react to them."""

from django.dispatch import Signal

# Sent once the change is committed, when a phone call (or a text) booked, moved, cancelled or confirmed an
# appointment. Arguments: `appointment_id`, `action` (an `AppointmentAction` value), `call_sid` ("" for none).
appointment_changed = Signal()
