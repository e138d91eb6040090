"""Runs scenarios against a brain, each in a clean database state (its rows made inside a transaction that
is rolled back), with "today" pinned to the suite's `now`, the built-in calendar and a private cache, so
nothing leaves the run: no calendar event, no text message, no cached caller in a shared cache."""

import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import time_machine
from asgiref.sync import async_to_sync, sync_to_async
from django.core.cache import caches
from django.test.utils import override_settings

from crm.selectors import customer_row_by_phone
from voice.evaluation import judge, scenarios, world
from voice.evaluation.conversation import Call, converse
from voice.evaluation.scenarios import Scenario, Suite
from voice.providers.base import ChatModel

logger = logging.getLogger(__name__)
PRIVATE_CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "eval"},
                   "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "eval-local"}}


@dataclass(slots=True)
class Result:
    """One scenario's verdict: the failed expectations (none: passed) and the conversation."""

    scenario: Scenario
    problems: list[str]
    lines: list[tuple[str, str]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems and not self.scenario.known_failure


def run_scenario(scenario: Scenario, suite: Suite, brain: Callable[[], ChatModel]) -> Result:
    """Build the scenario's CRM, talk it through with a brain made by `brain` (one per call, as on the phone:
    its client belongs to the call's event loop), judge the end state, then remove every row it made (its
    numbers are its own: the caller's and the other customers' it names)."""
    result = Result(scenario=scenario, problems=[])
    with (time_machine.travel(suite.now, tick=True),
          override_settings(CACHES=PRIVATE_CACHES, CALENDAR_BACKEND="builtin", FRONT_DESK_NUMBER=scenario.front_desk)):
        for name in ("default", "local"):
            caches[name].clear()
        call_sid = f"EVAL{uuid.uuid4().hex}"
        try:
            _run(scenario, brain, result, call_sid)
        finally:  # committed as on a call (the tools' own connections close theirs), so removed row by row
            world.wipe(scenario, call_sid)
    return result


def _run(scenario: Scenario, brain: Callable[[], ChatModel], result: Result, call_sid: str) -> None:
    made = world.build(scenario)
    before = world.snapshot()
    try:
        call: Call = async_to_sync(_talk)(scenario, brain, call_sid)
    except Exception as exc:  # a brain that crashes fails its scenario, not the suite
        logger.exception("scenario %s: the call crashed", scenario.name)
        result.problems.append(f"the call crashed: {type(exc).__name__}: {exc}")
        return
    result.lines = call.lines
    result.problems = judge.failures(scenario, made, before, world.snapshot(), call.record)


async def _talk(scenario: Scenario, brain: Callable[[], ChatModel], call_sid: str) -> Call:
    chat = brain()
    try:
        customer = await sync_to_async(customer_row_by_phone)(scenario.caller)
        return await converse(chat=chat, caller=scenario.caller, customer=customer,
                              attestation=scenario.attestation, lines=scenario.lines, call_sid=call_sid)
    finally:
        await chat.aclose()


def run_suite(suite: Suite, brain: Callable[[], ChatModel], only: Iterable[str] = (),
              progress: Callable[[Result], None] | None = None) -> list[Result]:
    """Run the scenarios named (by name or category) in `only`, or all of them; `progress` sees each result."""
    wanted = set(only)
    results = []
    for scenario in suite.scenarios:
        if wanted and scenario.name not in wanted and scenario.category not in wanted:
            continue
        result = run_scenario(scenario, suite, brain)
        results.append(result)
        if progress is not None:
            progress(result)
    return results


def pass_rates(results: list[Result]) -> dict[str, tuple[int, int]]:
    """Passed and run per category, in the order met, then "overall"; a known failure counts as failed."""
    rates: dict[str, tuple[int, int]] = {}
    for r in results:
        passed, run = rates.get(r.scenario.category, (0, 0))
        rates[r.scenario.category] = (passed + r.passed, run + 1)
    rates["overall"] = (sum(r.passed for r in results), len(results))
    return rates


def baseline_path() -> Path:
    """The offline brain's passing scenarios as last recorded: the floor its text pass rate must keep."""
    return scenarios.default_path().with_name("scenarios_baseline.json")


def baseline_write(results: list[Result], path: Path) -> None:
    """Record which scenarios passed (`manage.py eval_agent --save-baseline`), for the regression test."""
    passed = sorted(r.scenario.name for r in results if r.passed)
    path.write_text(json.dumps({"passed": passed, "run": len(results)}, indent=2) + "\n")


def baseline_read(path: Path) -> set[str]:
    """The names of the scenarios that passed when the baseline was recorded."""
    return set(json.loads(path.read_text())["passed"])
