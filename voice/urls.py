"""HTTP routes of the voice app (Twilio webhooks)."""

from django.urls import path

from voice import views

urlpatterns = [
    path("voice", views.voice_webhook, name="twilio-voice"),
    path("stream-ended", views.stream_ended, name="twilio-stream-ended"),
    path("status", views.status_callback, name="twilio-status"),
]
