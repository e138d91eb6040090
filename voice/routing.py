"""WebSocket routes of the voice app."""

websocket_urlpatterns: list = []
