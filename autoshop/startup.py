"""Getting a web process ready before its first call.

Anything a call would otherwise load on first use (a vendor SDK, the offline voice, the Redis client and
the 70-odd modules it imports) is a synchronous import inside the event loop: every call in the process
stops while it runs. So it is all loaded here, and then frozen out of the garbage collector's full passes:
it lives as long as the process, and walking its ~100k objects stops the event loop for 40-50 ms each
time a full pass runs (bench/concurrent_calls.py).
"""

import gc

from django.conf import settings
from django.core.cache import caches


def load_cache_clients() -> None:
    """Build each cache's client object now (no connection is opened until the first command)."""
    for alias in settings.CACHES:
        backend = caches[alias]
        client = getattr(backend, "_cache", None)  # Django's RedisCache builds its client lazily
        if client is not None and hasattr(client, "get_client"):
            client.get_client(write=True)


def prepare_web_process() -> None:
    from voice.providers.factory import preload_configured

    preload_configured()
    load_cache_clients()
    gc.freeze()
