"""Getting a web process ready before its first call.

Anything a call would otherwise load on first use (a vendor SDK, the offline voice, the Redis client and
the 70-odd modules it imports) is a synchronous import inside the event loop: every call in the process
stops while it runs. So it is all loaded here, and then frozen out of the garbage collector's full passes:
it lives as long as the process, and walking its ~100k objects stops the event loop for 40-50 ms each
time a full pass runs (bench/concurrent_calls.py). The fixed phrases (the apology above all) are
synthesised here too, in every configured voice, so a voice failing mid-call is answered at once.
"""

import gc
import logging

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)


def load_cache_clients() -> None:
    """Build each cache's client object now (no connection is opened until the first command)."""
    for alias in settings.CACHES:
        backend = caches[alias]
        client = getattr(backend, "_cache", None)  # Django's RedisCache builds its client lazily
        if client is not None and hasattr(client, "get_client"):
            client.get_client(write=True)


def prerender_phrases() -> None:
    """The calls' shared phrase cache, filled in every voice of the configured TTS chain."""
    from voice.consumers import CALL_PHRASES, PHRASES
    from voice.phrases import prerender
    from voice.providers.factory import make_tts

    try:
        ready = prerender(PHRASES, make_tts, CALL_PHRASES)
    except ImproperlyConfigured as exc:  # no key for the voice: `manage.py check` says so; calls will fail
        logger.warning("fixed phrases not pre-rendered: %s", exc)
        return
    logger.info("pre-rendered %d of %d fixed phrases", ready, len(CALL_PHRASES))


def prepare_web_process() -> None:
    from voice.providers.factory import preload_configured

    preload_configured()
    prerender_phrases()
    load_cache_clients()
    gc.freeze()
