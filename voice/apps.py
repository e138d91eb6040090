"""The voice app: Twilio webhooks and the media-stream agent."""

from django.apps import AppConfig


class VoiceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "voice"

    def ready(self) -> None:
        from django.core import checks

        from voice.checks import check_caller_verification, check_providers, check_speech_fallbacks

        checks.register(check_providers)
        checks.register(check_caller_verification)
        checks.register(check_speech_fallbacks)
