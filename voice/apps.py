"""The voice app: Twilio webhooks and the media-stream agent."""

from django.apps import AppConfig


class VoiceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "voice"
