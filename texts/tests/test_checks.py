"""`manage.py check` warns when texts are on but there is no number to send them from."""

from texts.checks import check_text_settings


def test_texts_on_with_a_twilio_account_but_no_number_is_a_warning(settings) -> None:
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_PHONE_NUMBER = "AC" + "1" * 32, ""
    settings.SMS_CONFIRMATIONS, settings.SMS_REMINDERS = True, False
    assert [message.id for message in check_text_settings()] == ["texts.W001"]


def test_a_number_or_texts_off_or_no_twilio_at_all_is_fine(settings) -> None:
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_PHONE_NUMBER = "AC" + "1" * 32, "+15550100100"
    assert check_text_settings() == []
    settings.TWILIO_PHONE_NUMBER = ""
    settings.SMS_CONFIRMATIONS = settings.SMS_REMINDERS = False
    assert check_text_settings() == []
    settings.SMS_CONFIRMATIONS, settings.TWILIO_ACCOUNT_SID = True, ""  # the local demo: no Twilio, no warning
    assert check_text_settings() == []
