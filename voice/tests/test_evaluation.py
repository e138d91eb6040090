"""The scenario suite (`manage.py eval_agent`): it really judges by the database, and the offline brain keeps
the pass rate it had when the baseline was recorded."""

import asyncio
import dataclasses
import glob
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.core.management import CommandError, call_command

from voice.evaluation import scenarios, served
from voice.evaluation.runner import Result, baseline_path, baseline_read, pass_rates, run_scenario, run_suite
from voice.providers.base import ChatContext, ChatEvent
from voice.providers.offline_brain import OfflineBrain
from voice.tests.peers.openai_server import FakeOpenAI, TextReply

pytestmark = pytest.mark.django_db(transaction=True)  # the tools commit (and close their connections) as on a call


class MishearingBrain(OfflineBrain):
    """The offline brain hearing "brake inspection" wherever the caller said "oil change": it books, reads back
    and confirms the wrong service, as a weak model might."""

    def decide(self, messages: list[dict[str, Any]], offered: set[str],
               context: ChatContext | None = None) -> list[ChatEvent]:
        heard = [{**m, "content": m["content"].replace("oil change", "brake inspection")}
                 if m.get("role") == "user" and isinstance(m.get("content"), str) else m for m in messages]
        return super().decide(heard, offered, context)


def _scenario(suite: scenarios.Suite, name: str) -> scenarios.Scenario:
    return next(s for s in suite.scenarios if s.name == name)


def _shown(result: Result) -> str:
    return "\n".join([*result.problems, *(f"{who}: {said}" for who, said in result.lines)])


def test_the_shipped_suite_has_forty_scenarios_in_every_category_the_issue_names() -> None:
    suite = scenarios.load()
    assert len(suite.scenarios) >= 40
    assert {s.category for s in suite.scenarios} >= {
        "booking", "rescheduling", "cancelling", "several cars", "several appointments", "new callers",
        "corrections", "relative dates and times", "prices and hours", "transfer requests",
        "dictated VINs and plates", "silence", "hostile instructions"}


def test_a_booking_the_brain_makes_passes_and_its_rows_are_rolled_back() -> None:
    from crm.models import Appointment, Customer

    suite = scenarios.load()
    result = run_scenario(_scenario(suite, "book-oil-change-known-caller"), suite, OfflineBrain)
    assert result.passed, _shown(result)
    assert not Customer.objects.exists() and not Appointment.objects.exists()


def test_a_deliberately_wrong_expected_start_fails_naming_the_booking() -> None:
    suite = scenarios.load()
    scenario = _scenario(suite, "book-oil-change-known-caller")
    wanted = scenario.expect.booked[0]
    wrong = dataclasses.replace(wanted, start=wanted.start.replace(hour=11) if wanted.start else None)
    broken = dataclasses.replace(scenario, expect=dataclasses.replace(scenario.expect, booked=(wrong,)))
    result = run_scenario(broken, suite, OfflineBrain)
    assert not result.passed
    assert "expected a booking oil_change at Wed 2026-12-09 11:00" in result.problems[0]
    assert any("an unexpected booking: oil_change Wed 2026-12-09 10:00" in p for p in result.problems)


def test_a_brain_that_books_the_wrong_service_fails() -> None:
    suite = scenarios.load()
    result = run_scenario(_scenario(suite, "book-oil-change-known-caller"), suite, MishearingBrain)
    assert not result.passed
    assert "brake_inspection Wed 2026-12-09 10:00" in _shown(result)


def test_a_brain_that_cancels_the_wrong_appointment_fails_and_the_change_is_named() -> None:
    suite = scenarios.load()
    # The caller asks to cancel the oil change; a brain hearing "brake inspection" cancels the other one.
    result = run_scenario(_scenario(suite, "cancel-one-of-two-by-service"), suite, MishearingBrain)
    assert not result.passed
    assert "expected 'oil' cancelled" in result.problems[0]
    assert any("'brakes' changed unexpectedly" in p for p in result.problems), _shown(result)


def test_a_known_failure_counts_as_failed_even_when_its_checks_pass() -> None:
    suite = scenarios.load()
    scenario = dataclasses.replace(_scenario(suite, "book-oil-change-known-caller"), known_failure="not built yet")
    result = run_scenario(scenario, suite, OfflineBrain)
    assert result.problems == [] and not result.passed
    assert pass_rates([result])["overall"] == (0, 1)


def test_a_scenario_file_with_a_typo_is_refused_naming_the_scenario(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text('now: "2026-12-07 08:30"\nscenarios:\n  - {name: typo, category: booking, caller: "+15550100001", '
                    'say: ["hi"], expect: {boked: []}}\n')
    with pytest.raises(scenarios.ScenarioError, match=r"typo\.expect: unknown keys \['boked'\]"):
        scenarios.load(path)


def test_the_offline_brain_keeps_its_recorded_text_pass_rate() -> None:
    """Every scenario that passed when the baseline was recorded still passes, so the rate can only rise. After
    the brain improves, record the new floor: `manage.py eval_agent --save-baseline`."""
    suite = scenarios.load()
    results = run_suite(suite, OfflineBrain)
    recorded = baseline_read(baseline_path())
    passed, run = pass_rates(results)["overall"]
    regressed = {r.scenario.name: _shown(r) for r in results if r.scenario.name in recorded and not r.passed}
    assert regressed == {}
    assert passed / run >= len(recorded) / run


def test_eval_agent_prints_a_line_per_scenario_and_rates_per_category(settings: Any) -> None:
    settings.LLM_PROVIDER = "offline"
    out = StringIO()
    call_command("eval_agent", "--use-current-db", "--only", "cancelling", "--only", "friday-at-noon",
                 "--transcripts", stdout=out)
    text = out.getvalue()
    assert "PASS  cancelling" in text and "friday-at-noon" in text
    assert "  relative dates and times   1/1   100.0 %" in text
    assert "  overall" in text


def test_eval_agent_exits_non_zero_below_min_pass(settings: Any, tmp_path: Path) -> None:
    settings.LLM_PROVIDER = "offline"
    unmeetable = tmp_path / "scenarios.yaml"  # the caller only asks the hours; the scenario expects a booking
    unmeetable.write_text("""now: "2026-12-07 08:30"
scenarios:
  - name: hours-expected-to-book
    category: booking
    caller: "+15550199001"
    crm: {customer: Dana Whitfield}
    say: ["What are your hours?"]
    expect:
      booked: [{service: oil_change}]
""")
    with pytest.raises(CommandError, match="below --min-pass 90"):
        call_command("eval_agent", "--use-current-db", "--file", str(unmeetable), "--min-pass", "90",
                     stdout=StringIO())


def _eval_voice(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`manage.py eval_agent --voice` as an operator runs it, on a database file of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "OPENAI"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'eval.sqlite3'}"
    return subprocess.run([sys.executable, "manage.py", "eval_agent", "--voice", *args], cwd=settings.BASE_DIR,  # noqa: S603
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not glob.glob(served.FAKETIME_LIBRARIES), reason="libfaketime is missing (apt install faketime)")
def test_voice_mode_phones_the_production_server_and_judges_the_call(tmp_path: Path) -> None:
    """Through `manage.py serve`: the signed webhook, the media stream its TwiML names, the keypad (0 asks for the
    front desk; no speech recognition, so this stays quick); judged by the call log the server wrote."""
    run = _eval_voice(tmp_path, "--only", "keypad-zero-for-front-desk", "--transcripts")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASS  transfer requests      keypad-zero-for-front-desk" in run.stdout
    assert "overall                    1/1   100.0 %" in run.stdout

    suite = yaml.safe_load((settings.BASE_DIR / "fixtures" / "scenarios.yaml").read_text())
    wrong = next(s for s in suite["scenarios"] if s["name"] == "keypad-zero-for-front-desk")
    wrong["expect"]["transfer"] = False
    (tmp_path / "wrong.yaml").write_text(yaml.safe_dump({"now": suite["now"], "scenarios": [wrong]}))
    run = _eval_voice(tmp_path, "--file", str(tmp_path / "wrong.yaml"), "--transcripts", "--min-pass", "100")
    assert run.returncode != 0
    assert "keypad-zero-for-front-desk: a transfer was requested but none was expected" in run.stdout
    assert "Caller: [pressed 0]" in run.stdout


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAI]:
    """A local OpenAI-compatible server answering every request with the same words, on its own thread's loop
    (each scenario's call runs on a loop of its own, as each phone call does)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = FakeOpenAI(default=TextReply("Sorry, could you say that again?"))
    asyncio.run_coroutine_threadsafe(server.__aenter__(), loop).result(timeout=10)
    yield server
    asyncio.run_coroutine_threadsafe(server.__aexit__(None, None, None), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)


def test_eval_agent_runs_an_openai_compatible_brain_from_openai_base_url(settings: Any,
                                                                        openai_server: FakeOpenAI) -> None:
    settings.LLM_PROVIDER, settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "openai", "sk-test", openai_server.url
    out = StringIO()
    call_command("eval_agent", "--use-current-db", "--only", "hours-question-changes-nothing",
                 "--only", "book-oil-change-known-caller", stdout=out)
    text = out.getvalue()
    assert "Brain: openai (OpenAIChat)" in text
    assert "PASS  prices and hours       hours-question-changes-nothing" in text  # a brain that books nothing
    assert "FAIL  booking                book-oil-change-known-caller: expected a booking oil_change" in text
    assert "crashed" not in text
    assert len(openai_server.requests) >= 5  # every caller line of both calls reached the server


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt install espeak-ng)")
def test_a_caller_line_rendered_by_an_espeak_voice_is_phone_audio() -> None:
    from voice.evaluation.voice_mode import render

    audio = asyncio.run(render("Oil change on Tuesday at ten, please.", "espeak:en-us"))
    assert 8000 < len(audio) < 8000 * 6  # one to six seconds of 8 kHz mu-law, one byte a sample
