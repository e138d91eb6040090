"""Time `manage.py seed_crm` at its default counts, in a scratch database on the server DATABASE_URL names.

Run from the project root:

    .venv/bin/python bench/seed_crm.py                      # SQLite: a throwaway file in a temp dir
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/seed_crm.py

DATABASE_URL only chooses the engine and server. Nothing is written to the database it names: on
Postgres the bench connects to it just to create a scratch database (`autoshop_bench`, dropped again at
the end; the role needs CREATEDB), and on SQLite it uses a new file in a temp directory. It migrates the
scratch database, seeds it once from empty, then once more with `--wipe` (the re-seed a developer does),
and prints seconds, rows per second and the database vendor and version. It asserts nothing.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "autoshop_bench"


def scratch_postgres(url: str) -> tuple[str, str]:
    """Create an empty scratch database next to the one `url` names; return its URL and the admin URL."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    admin_url = urlunsplit(parts._replace(scheme="postgresql"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(SCRATCH_DB)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(SCRATCH_DB)))
    return urlunsplit(parts._replace(path=f"/{SCRATCH_DB}")), admin_url


def drop_postgres(admin_url: str) -> None:
    """Drop the scratch database."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(SCRATCH_DB)))


def run(seed: int, today: str) -> None:
    """Migrate, then time a seed from empty and a re-seed with --wipe; print the figures."""
    import django
    from django.core.management import call_command
    from django.db import connection

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "autoshop.settings")
    django.setup()

    from crm.models import Appointment, Customer, Vehicle

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    migrate_seconds = time.perf_counter() - started

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            version = f"PostgreSQL {cursor.fetchone()[0]}"
        else:
            cursor.execute("SELECT sqlite_version()")
            version = f"SQLite {cursor.fetchone()[0]}"
    print(f"database: {connection.vendor} ({version}), {connection.settings_dict['NAME']}")
    print(f"migrate: {migrate_seconds:.2f} s (not counted)")

    for label, extra in (("seed from empty", []), ("re-seed with --wipe", ["--wipe"])):
        out = StringIO()
        started = time.perf_counter()
        call_command("seed_crm", "--seed", str(seed), "--today", today, *extra, stdout=out, stderr=StringIO())
        seconds = time.perf_counter() - started
        rows = Customer.objects.count() + Vehicle.objects.count() + Appointment.objects.count()
        print(f"{label}: {seconds:.2f} s, {rows:,} rows, {rows / seconds:,.0f} rows/s")
        print(f"  {out.getvalue().strip()}")
    connection.close()


def main() -> None:
    """Point DATABASE_URL at a scratch database, run the bench, and clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--today", default="2026-11-23")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    scheme = urlsplit(url).scheme
    if scheme.startswith("postgres"):
        scratch_url, admin_url = scratch_postgres(url)
        os.environ["DATABASE_URL"] = scratch_url
        try:
            run(args.seed, args.today)
        finally:
            drop_postgres(admin_url)
    elif scheme in ("", "sqlite"):
        tmp = tempfile.mkdtemp(prefix="seed_crm_bench_")
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        try:
            run(args.seed, args.today)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    else:
        sys.exit(f"bench/seed_crm.py knows SQLite and Postgres, not {scheme!r}.")


if __name__ == "__main__":
    main()
