"""Issue 13's fault suite: each fault injected for real into the product as deployed (Daphne running
the production command, its own Redis on a spare port, a local Twilio REST peer, a calendar that is
down), one call placed per fault as Twilio would. Targets for every fault: the caller never waits
more than 2 s for the agent's next sound, the call log holds the whole transcript and the right
outcome, and a caller who asks for a person gets one. One server serves every case (about 40 s).

Adding a fault is one async function in `voice.tests.faults` and one row in its table."""

from collections.abc import Iterator

import pytest

from voice.tests.faults import LAB_FAULTS, SILENCE_TARGET, FaultLab, fault_lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultLab]:
    with fault_lab(tmp_path_factory.mktemp("faults")) as running:
        yield running


@pytest.mark.parametrize("name", list(LAB_FAULTS))  # in the table's order: the faults build on each other
async def test_the_caller_gets_through_the_fault(lab: FaultLab, name: str) -> None:
    fault = LAB_FAULTS[name]
    logged_before = len(lab.server.log_text())
    result = await fault.run(lab)
    log = lab.server.log_text()[logged_before:]
    assert result.silence <= SILENCE_TARGET, result
    assert result.log_complete, result
    assert result.outcome == fault.outcome, result
    if fault.needs_person:
        assert result.person, result
    assert "Traceback" not in log, log[-4000:]  # nothing failed unhandled on the way
