"""`/metrics`: the Prometheus text exposition, for the operator's scraper only.

Allowed: a request with `Authorization: Bearer <METRICS_TOKEN>` (when a token is set), or one without an
Authorization header from an address in METRICS_ALLOWED_IPS (default: this host only), the address read as
the login throttle reads it (TRUSTED_PROXY_COUNT). A request with a wrong token is refused wherever it comes
from. Everyone else gets 403: the figures say how busy the shop is and how its providers fare.
"""

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView

from autoshop.client_ip import client_ip


def token_matches(header: str) -> bool:
    """`header` is `Bearer <METRICS_TOKEN>` and a token is set (compared in constant time)."""
    token = str(getattr(settings, "METRICS_TOKEN", "") or "")
    scheme, _, given = header.partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def address_allowed(address: str) -> bool:
    """`address` is inside one of METRICS_ALLOWED_IPS (addresses or networks, e.g. `10.0.0.0/8`)."""
    try:
        ip = ipaddress.ip_address(address.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    for entry in getattr(settings, "METRICS_ALLOWED_IPS", ()):
        try:
            if ip in ipaddress.ip_network(str(entry).strip(), strict=False):
                return True
        except ValueError:  # refused at start-up (settings); never a reason to let anyone in
            continue
    return False


def scrape_allowed(request: HttpRequest) -> bool:
    """The right bearer token, or no Authorization header and an allowed address."""
    header = str(request.META.get("HTTP_AUTHORIZATION", ""))
    if header:
        return token_matches(header)
    return address_allowed(client_ip(request))


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """The metrics of this process, or in multiprocess mode of every web process on the host (a refusal is
    logged by Django as any 403 is: "Forbidden: /metrics")."""
    if not scrape_allowed(request):
        return HttpResponseForbidden("forbidden\n", content_type="text/plain")
    response: HttpResponse = ExportToDjangoView(request)
    response["Cache-Control"] = "no-store"
    return response
