"""WebSocket routes of the voice app."""

from django.urls import path

from voice.consumers import MediaStreamConsumer

websocket_urlpatterns = [
    path("twilio/media", MediaStreamConsumer.as_asgi()),
]
