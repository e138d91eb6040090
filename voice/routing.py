"""WebSocket routes of the voice app."""

from django.urls import path

websocket_urlpatterns: list = []
