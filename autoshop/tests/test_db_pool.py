"""Postgres connections are pooled (a caller lookup must not pay for a new connection), and a
forked task worker opens its own connections instead of sharing its parent's."""

import asyncio
import os

import pytest
from django.db import connection

from autoshop.tests.test_settings import _manage
from crm.models import Customer
from crm.selectors import acustomer_get_by_phone, customer_cache_forget

on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="connection pooling is for PostgreSQL")


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@on_postgres
@pytest.mark.skipif(not connection.settings_dict["OPTIONS"].get("pool"),
                    reason="DATABASE_POOL_SIZE=0 turns pooling off")
@pytest.mark.django_db(transaction=True)
def test_lookups_from_the_call_loop_reuse_pooled_connections() -> None:
    phones = [f"+1555010{n:04d}" for n in range(30)]
    Customer.objects.bulk_create(Customer(phone=phone, name=f"Caller {n}") for n, phone in enumerate(phones))
    pool = getattr(connection, "pool", None)  # psycopg_pool.ConnectionPool (Postgres backend only)
    assert pool is not None
    opened_before = pool.get_stats().get("connections_num", 0)

    async def lookups() -> list:
        found = []
        for phone in phones:
            customer_cache_forget(phone)  # a cache miss every time: each lookup reads the database
            found.append(await acustomer_get_by_phone(phone))
        return found

    found = asyncio.run(lookups())
    assert [row["name"] for row in found] == [f"Caller {n}" for n in range(30)]
    opened = pool.get_stats().get("connections_num", 0) - opened_before
    assert opened <= 3, f"{opened} new connections for 30 lookups: connections are not being reused"


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_a_forked_worker_opens_its_own_connection_and_leaves_the_parents_alone() -> None:
    parent_pid = _backend_pid()
    Customer.objects.create(phone="+15550109999", name="Before fork")
    read_end, write_end = os.pipe()
    child = os.fork()  # what django-q2 does to start or replace a worker
    if child == 0:  # pragma: no cover - runs in the child process
        status = 1
        try:
            os.close(read_end)
            names = list(Customer.objects.filter(phone="+15550109999").values_list("name", flat=True))
            os.write(write_end, f"{_backend_pid()} {names[0]}".encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        child_says = pipe.read()
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    child_pid, name = child_says.split(" ", 1)
    assert name == "Before fork"
    assert int(child_pid) != parent_pid, "the child used its parent's connection"
    # The parent's session survived the child's exit and still works.
    assert Customer.objects.filter(phone="+15550109999").exists()
    assert _backend_pid() == parent_pid


def test_pooling_refuses_persistent_connections_with_a_clear_message() -> None:
    result = _manage("check", DATABASE_URL="postgres://nobody@127.0.0.1:1/none", CONN_MAX_AGE="60",
                     DATABASE_POOL_SIZE="10")
    assert result.returncode != 0
    assert "CONN_MAX_AGE must be 0 while DATABASE_POOL_SIZE > 0" in result.stderr
    assert _manage("check", DATABASE_URL="postgres://nobody@127.0.0.1:1/none", CONN_MAX_AGE="60",
                   DATABASE_POOL_SIZE="0").returncode == 0


def test_the_fork_guard_is_installed_as_django_starts() -> None:
    from django.apps import apps

    from autoshop import db

    assert apps.get_app_config("autoshop").name == "autoshop"
    assert db._installed, "autoshop's AppConfig.ready() did not install the fork guard"
