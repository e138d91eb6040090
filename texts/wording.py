"""What the texts say: short, plain (GSM-7 characters only, so one or two segments), in the shop's time."""

import phonenumbers
from django.conf import settings

from crm.models import Appointment, AppointmentAction
from scheduling.spoken import spoken_time

OPT_OUT_LINE = "Reply STOP to opt out."


def shop_phone_display() -> str:
    """SHOP_PHONE as people write it: `(555) 010-0100` (national format), or as given if unreadable."""
    raw = str(getattr(settings, "SHOP_PHONE", ""))
    try:
        number = phonenumbers.parse(raw, settings.PHONE_REGION)
    except phonenumbers.NumberParseException:
        return raw
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def _shop() -> str:
    return str(getattr(settings, "SHOP_NAME", "The shop"))


def _address() -> str:
    return str(getattr(settings, "SHOP_ADDRESS", ""))


def _service(appointment: Appointment) -> str:
    """"oil change", "A/C service": the menu's name, lower-case unless it starts with an abbreviation."""
    name = appointment.get_service_type_display()
    return name[:1].lower() + name[1:] if name[1:2].islower() else name


def _what(appointment: Appointment) -> str:
    """"oil change for your 2018 Honda Civic" (the car when known)."""
    car = appointment.vehicle.label if appointment.vehicle_id and appointment.vehicle else ""
    return f"{_service(appointment)} for your {car}" if car else _service(appointment)


def appointment_text(appointment: Appointment, action: str) -> str:
    """The text after a call booked, moved or cancelled `appointment`: service, car, day and time, address."""
    when = spoken_time(appointment.scheduled_at)
    if action == AppointmentAction.CANCELLED:
        return (f"{_shop()}: your {_what(appointment)} on {when} is cancelled. To book again, call "
                f"{shop_phone_display()} or stop by at {_address()}. {OPT_OUT_LINE}")
    done = "moved to" if action == AppointmentAction.MOVED else "booked for"
    return (f"{_shop()}: your {_what(appointment)} is {done} {when}. We're at {_address()}. "
            f"To change it, call {shop_phone_display()}. {OPT_OUT_LINE}")


def reminder_text(appointment: Appointment) -> str:
    """The reminder sent when the reminder call reached no one; "C" confirms it."""
    return (f"{_shop()}: a reminder of your {_what(appointment)} on {spoken_time(appointment.scheduled_at)}, at "
            f"{_address()}. Reply C to confirm, or call {shop_phone_display()} to change it. {OPT_OUT_LINE}")


def help_text() -> str:
    """The answer to HELP: who we are and how to reach us."""
    return (f"{_shop()}, {_address()}. Call us at {shop_phone_display()}. Reply C to confirm an appointment we "
            f"reminded you of. {OPT_OUT_LINE}")


def confirmed_text(appointment: Appointment) -> str:
    """The answer to "C" or "YES" once the reminded appointment is confirmed."""
    first_name = (appointment.customer.name or "").split(" ")[0]
    thanks = f"Thanks, {first_name}!" if first_name else "Thanks!"
    return (f"{thanks} Your {_service(appointment)} on {spoken_time(appointment.scheduled_at)} is confirmed. "
            f"See you at {_address()}. {_shop()}")


def nothing_to_confirm_text() -> str:
    """The answer to "C" when no reminded appointment is waiting."""
    return f"{_shop()}: we found no upcoming appointment to confirm. Please call us at {shop_phone_display()}."


def unrecognised_text() -> str:
    """The answer to any other text (at most once a day per number): nobody reads this inbox."""
    return (f"{_shop()}: this number can't answer messages. Please call us at {shop_phone_display()}. "
            f"Reply C to confirm a reminded appointment, HELP for help. {OPT_OUT_LINE}")
