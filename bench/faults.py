"""What a caller lives through when something the agent stands on fails (issue 13). Prints a table,
asserts nothing.

Starts everything itself: the production server (`manage.py serve`), its own
`redis-server` on a spare port (never the shared one), a local Twilio REST peer, a Google Calendar
that is down (a closed port) or hung (accepts, never answers), the provider peers (OpenAI, Deepgram,
ElevenLabs) for the provider faults, and, if a PostgreSQL server answers at --postgres, a database of
its own for the Postgres faults. Each fault is one call placed as Twilio places it.

Per fault: the longest silence the caller sat through before the agent's next sound (target ≤ 2 s),
whether they reached a person (the front desk, by REST hand-over or `<Connect action>`) or left a
message, whether the call log holds the whole transcript, and its outcome.

    .venv/bin/python bench/faults.py [--postgres postgres://postgres@127.0.0.1:5432/postgres] [--skip-peers]
"""

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voice.tests.faults import (  # noqa: E402
    LAB_FAULTS,
    PEER_FAULTS,
    POSTGRES_FAULTS,
    SILENCE_TARGET,
    BlackHole,
    CallerStuck,
    FaultLab,
    FaultResult,
    Scenario,
    calendar_down_while_booking,
    fault_lab,
    peer_lab,
    postgres_lab,
)


async def _measure(name: str, run: Scenario, lab: FaultLab) -> FaultResult:
    started = time.monotonic()
    try:
        result = await run(lab)
    except CallerStuck as exc:  # the caller sat in silence until giving up: that is the measurement
        result = FaultResult(name, exc.waited, False, False, False, "?", f"caller gave up after {exc.waited:.0f} s "
                             "of silence")
    except AssertionError as exc:
        result = FaultResult(name, time.monotonic() - started, False, False, False, "?", f"stuck: {exc}")
    print(f"  {name}: done in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return result


def _postgres_up(url: str) -> bool:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=2):
            return True
    except Exception:  # noqa: BLE001 - any failure: no Postgres faults
        return False


async def main(postgres: str, skip_peers: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench_faults_"))
    rows: list[tuple[str, FaultResult]] = []
    with fault_lab(folder) as lab:
        for key, fault in LAB_FAULTS.items():
            rows.append((key, await _measure(key, fault.run, lab)))
    hung = BlackHole()
    try:
        with fault_lab(folder, calendar=hung.url, name="slow-calendar") as lab:
            result = await _measure("calendar-hung-booking", calendar_down_while_booking, lab)
            result.fault = "calendar hung (no answer), booking"
            rows.append(("calendar-hung-booking", result))
    finally:
        hung.close()
    if _postgres_up(postgres):
        with postgres_lab(folder, postgres) as lab:
            for key, fault in POSTGRES_FAULTS.items():
                rows.append((key, await _measure(key, fault.run, lab)))
    else:
        print(f"(no PostgreSQL at {postgres}: Postgres faults skipped)")
    if not skip_peers:
        for key, peer_fault in PEER_FAULTS.items():
            async with peer_lab(folder, key, peer_fault.peer(), peer_fault.env) as lab:
                rows.append((key, await _measure(key, peer_fault.run, lab)))
    _print(rows)
    print(f"(server logs and databases in {folder})")


def _print(rows: list[tuple[str, FaultResult]]) -> None:
    yes = {True: "y", False: "n"}
    header = (f"{'fault':<38} {'silence s':>9} {'≤2s':>4} {'person':>6} {'message':>7} {'log complete':>12} "
              f"{'outcome':<12} notes")
    print(header)
    print("-" * len(header))
    for _, r in rows:
        print(f"{r.fault:<38} {r.silence:>9.2f} {yes[r.silence <= SILENCE_TARGET]:>4} {yes[r.person]:>6} "
              f"{yes[r.message]:>7} {yes[r.log_complete]:>12} {r.outcome:<12} {r.notes[:90]}")
    lost = sum(1 for _, r in rows if not r.log_complete)
    over = sum(1 for _, r in rows if r.silence > SILENCE_TARGET)
    print(f"\n{len(rows)} faults: {over} over the {SILENCE_TARGET:.0f} s silence target, {lost} call logs "
          "incomplete or lost, "
          f"{sum(1 for k, r in rows if _needs_person(k) and not r.reached_someone)} calls that needed a person "
          "without one")


def _needs_person(key: str) -> bool:
    for table in (LAB_FAULTS, POSTGRES_FAULTS, PEER_FAULTS):
        if key in table:
            return bool(table[key].needs_person)
    return False


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--skip-peers", action="store_true", help="leave out the provider faults (points 1-4)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.postgres, args.skip_peers))
