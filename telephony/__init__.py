"""Twilio for every interface: signatures, public URLs, stream tokens, TwiML and one REST client.

It stands below `voice` and `reminders` and imports neither."""
