"""Database connections across `fork()`.

django-q2 forks its workers from a parent that has already used the database (its scheduler runs
there). A child must never touch the parent's sockets: sharing one connection between two
processes corrupts both, and closing it in the child would end the parent's session too. So, in
the child, the inherited pools and open connections are set aside (kept referenced, so nothing
closes them) and the child opens its own on first use.
"""

import os
from typing import Any

_inherited: list[Any] = []  # the parent's pools and connections; held so they are never closed here
_installed = False


def forget_inherited_connections() -> None:
    """Run in a freshly forked child: make every alias open a connection of its own."""
    from django.db import connections

    for wrapper in connections.all(initialized_only=True):
        if wrapper.connection is not None:
            _inherited.append(wrapper.connection)
            wrapper.connection = None
    try:
        from django.db.backends.postgresql.base import DatabaseWrapper
    except ImportError:  # psycopg not installed: no pools exist
        return
    pools: dict[str, Any] = getattr(DatabaseWrapper, "_connection_pools", {})  # Django's per-alias pools
    _inherited.extend(pools.values())
    pools.clear()


def install_fork_guard() -> None:
    """Register `forget_inherited_connections` to run in every child process (once per process)."""
    global _installed
    if not _installed:
        os.register_at_fork(after_in_child=forget_inherited_connections)
        _installed = True
