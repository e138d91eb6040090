"""`manage.py eval_agent`: runs the caller scenarios (fixtures/scenarios.yaml) against the configured brain and
prints what passed, judged by the database each call left, with pass rates per category and overall."""

import logging
import tempfile
from pathlib import Path
from typing import Any

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from voice.evaluation import scenarios
from voice.evaluation.runner import Result, baseline_path, baseline_write, pass_rates, run_suite
from voice.providers.factory import configured_name, make_chat


class Command(BaseCommand):
    help = ("Run the caller scenarios against the configured brain (LLM_PROVIDER; the offline brain without an "
            "OpenAI key) in a throwaway database, and print pass rates per category.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--file", type=Path, default=None, help="The scenario file (default: the shipped one).")
        parser.add_argument("--only", action="append", default=[],
                            help="Run only this scenario or category (repeatable).")
        parser.add_argument("--transcripts", action="store_true", help="Print the conversation of each failure.")
        parser.add_argument("--min-pass", type=float, default=0.0,
                            help="Exit non-zero when the overall pass rate (percent) is below this.")
        parser.add_argument("--save-baseline", action="store_true",
                            help="Record the passing scenarios as the floor the offline brain's test keeps "
                                 "(fixtures/scenarios_baseline.json); run the whole suite with the offline brain.")
        parser.add_argument("--voice", action="store_true",
                            help="Speak each scenario to the call stack (Twilio media stream, offline speech) "
                                 "instead of typing it; slower (real-time turn-taking).")
        parser.add_argument("--caller-voice", default="piper",
                            help="--voice: who speaks the caller's lines: 'piper' (the offline voice) or "
                                 "'espeak:VOICE' (an espeak-ng voice, e.g. espeak:en-us; needs espeak-ng).")
        parser.add_argument("--use-current-db", action="store_true",
                            help="Run in the configured database (every scenario is rolled back) instead of a "
                                 "throwaway one made for the run.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            suite = scenarios.load(options["file"])
        except (OSError, scenarios.ScenarioError) as exc:
            raise CommandError(str(exc)) from exc
        if options["voice"] and options["use_current_db"]:
            raise CommandError("--voice commits what each call does, so it runs only in a throwaway database")
        if options["save_baseline"] and (options["voice"] or options["only"] or options["file"]
                                         or configured_name("LLM_PROVIDER") != "offline"):
            raise CommandError("--save-baseline records the whole shipped suite on the offline brain only")
        chat = make_chat()  # a configuration error surfaces here, before any scenario
        async_to_sync(chat.aclose)()
        self.stdout.write(f"Brain: {configured_name('LLM_PROVIDER')} ({type(chat).__name__}); "
                          f"today is {suite.now:%A %Y-%m-%d %H:%M} in every scenario")
        quiet = options["verbosity"] < 2
        if quiet:
            logging.disable(logging.INFO)  # the tools' log lines would bury the verdicts
        try:
            results = self._run(suite, options)
        finally:
            if quiet:
                logging.disable(logging.NOTSET)
        if not results:
            raise CommandError(f"no scenario or category named {', '.join(options['only'])}")
        if options["save_baseline"]:
            baseline_write(results, baseline_path())
            self.stdout.write(f"Baseline written to {baseline_path()}")
        self._rates(results, options["min_pass"])

    def _run(self, suite: scenarios.Suite, options: dict[str, Any]) -> list[Result]:
        """The scenarios, in the configured database or (by default) a throwaway one made for the run."""
        verbose = options["transcripts"]

        def run() -> list[Result]:
            if options["voice"]:
                from voice.evaluation.voice_mode import run_voice_suite

                return run_voice_suite(suite, options["only"], options["caller_voice"],
                                       progress=lambda r: self._line(r, verbose))
            return run_suite(suite, make_chat, options["only"], progress=lambda r: self._line(r, verbose))

        if options["use_current_db"]:
            return run()
        old_name = connection.settings_dict["NAME"]
        with tempfile.TemporaryDirectory(prefix="eval-agent-") as folder:
            if connection.vendor == "sqlite" and options["voice"]:  # the call stack's threads share a file
                connection.settings_dict.setdefault("TEST", {})["NAME"] = str(Path(folder) / "eval.sqlite3")
            connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
            try:
                return run()
            finally:
                connection.creation.destroy_test_db(old_name, verbosity=0)

    def _rates(self, results: list[Result], min_pass: float) -> None:
        rates = pass_rates(results)
        self.stdout.write("\nPass rates:")
        for category, (passed, run) in rates.items():
            self.stdout.write(f"  {category:<24} {passed:>3}/{run:<3} {100 * passed / run:5.1f} %")
        passed, run = rates["overall"]
        if 100 * passed / run < min_pass:
            raise CommandError(f"overall pass rate {100 * passed / run:.1f} % is below --min-pass {min_pass:g} %")

    def _line(self, result: Result, transcripts: bool) -> None:
        s = result.scenario
        if result.passed:
            self.stdout.write(f"PASS  {s.category:<22} {s.name}")
            return
        why = result.problems[0] if result.problems else "its checks pass now: drop its known_failure mark"
        known = f" [known failure: {s.known_failure}]" if s.known_failure else ""
        self.stdout.write(f"FAIL  {s.category:<22} {s.name}: {why}{known}")
        for more in result.problems[1:]:
            self.stdout.write(f"        also: {more}")
        if transcripts:
            for speaker, words in result.lines:
                self.stdout.write(f"        {'Caller' if speaker == 'caller' else 'Agent '}: {words}")
