"""The house's shape, checked: each voice module small enough to read in one sitting."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_VOICE_MODULE_LINES = 300


def test_no_voice_module_outside_tests_is_over_300_lines() -> None:
    modules = [p for p in (ROOT / "voice").rglob("*.py") if "tests" not in p.relative_to(ROOT).parts]
    assert len(modules) > 20  # the walk found the package
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in modules}
    assert {name: n for name, n in sizes.items() if n > MAX_VOICE_MODULE_LINES} == {}
