"""One TLS context for every provider client this process makes.

Each call builds its own provider clients (their connections belong to that call). An HTTP client made
without a context builds one, loading the whole CA bundle: tens of milliseconds of CPU on the event loop,
three times per call. Under load that was over a third of the server's CPU (bench/load.py --profile). A
context is made to be shared; the clients keep their own connection pools.
"""

import functools
import ssl
from typing import Any

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's client TLS context: certifi's CA bundle, as httpx builds it by default."""
    return httpx.create_ssl_context()


def async_http(**options: Any) -> httpx.AsyncClient:
    """An httpx client on the shared TLS context (`options` as for `httpx.AsyncClient`)."""
    return httpx.AsyncClient(verify=tls_context(), **options)
