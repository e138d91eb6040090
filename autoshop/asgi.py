"""ASGI entry point: Django for HTTP, Channels' router for the Twilio media WebSocket.

Everything a call needs is loaded here, before the first call, and then frozen out of the garbage
collector's full passes (see the end of the file)."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autoshop.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from voice.providers.factory import preload_configured  # noqa: E402
from voice.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

preload_configured()
# What exists now (Django, the SDKs, the offline voice: some 100k objects) lives as long as the
# process. Frozen, it is never walked by a full garbage collection, which otherwise stops the event
# loop, and so every call's audio and barge-in, for 40-50 ms each time one runs.
gc.freeze()
