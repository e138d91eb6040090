"""ASGI entry point: Django for HTTP, Channels' router for the Twilio media WebSocket. Everything a
call needs is loaded before the first call comes in (autoshop.startup); the first connection starts the
event-loop lag watch (autoshop.metrics)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autoshop.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from autoshop.metrics import EventLoopWatch  # noqa: E402
from autoshop.startup import prepare_web_process  # noqa: E402
from voice.routing import websocket_urlpatterns  # noqa: E402

application = EventLoopWatch(ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
))

prepare_web_process()
