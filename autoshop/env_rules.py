"""Rules for values read from the environment, shared by settings.py (before Django is set up) and the
system checks: what counts as an explicit yes or no, and what production refuses to start with."""

import ipaddress
from urllib.parse import urlsplit

from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})

# The key settings.py falls back to while DEBUG is on: published with the code, so it signs nothing real.
DEVELOPMENT_SECRET_KEY = "django-insecure-local-development-key-not-for-production-use"  # noqa: S105

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_explicit_flag(raw: str) -> bool:
    """True if `raw` is one of the words that plainly say yes or no (any case, spaces ignored)."""
    word = raw.strip().lower()
    return word in TRUE_WORDS or word in FALSE_WORDS


def fail_safe_flag(raw: str | None) -> bool:
    """A safety switch read from the environment: on unless `raw` explicitly says no (false, 0, no, off).
    Unset, empty and misspelt values ("ture", "enabled") keep it on."""
    return raw is None or raw.strip().lower() not in FALSE_WORDS


def secret_key_problem(key: str) -> str | None:
    """Why `key` must not sign anything in production (Django's own W009 rule, plus our published dev key),
    or None. The message never repeats the key."""
    weak = (
        key == DEVELOPMENT_SECRET_KEY
        or key.startswith(SECRET_KEY_INSECURE_PREFIX)
        or len(key) < SECRET_KEY_MIN_LENGTH
        or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
    )
    if not weak:
        return None
    return (
        f"SECRET_KEY is not fit for production: set it to a random value of at least {SECRET_KEY_MIN_LENGTH} "
        f"characters with at least {SECRET_KEY_MIN_UNIQUE_CHARACTERS} different characters, not starting with "
        f"'{SECRET_KEY_INSECURE_PREFIX}' and not the development key published in this repository. Generate one "
        "with: python -c 'from django.core.management.utils import get_random_secret_key; "
        "print(get_random_secret_key())'"
    )


def public_base_url_problem(url: str) -> str | None:
    """Why Twilio could not use `url` as our public origin (its signatures are computed on the https URL it
    called, and the media stream must be wss://), or None."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    local = not host or host in LOOPBACK_NAMES or host.endswith(".localhost")
    try:
        address = ipaddress.ip_address(host)
        local = local or address.is_loopback or address.is_unspecified
    except ValueError:
        pass
    if parts.scheme == "https" and not local:
        return None
    return (
        f"PUBLIC_BASE_URL is {url!r}: with DEBUG off it must be the https:// origin Twilio reaches this server "
        "on, not localhost or 127.0.0.1 (e.g. https://shop.example.com). Webhook signatures are checked "
        "against it and the media stream URL (wss://) is built from it."
    )


def ip_allowlist_problem(entries: list[str]) -> str | None:
    """Why an allowlist of addresses or networks (`127.0.0.1`, `10.0.0.0/8`, `::1`) cannot be used, or None."""
    bad = []
    for entry in entries:
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            bad.append(entry)
    return f"not an IP address or network: {', '.join(bad)}" if bad else None
