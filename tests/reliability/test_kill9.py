"""Commands killed with SIGKILL at random moments, then run to completion, end in the same state as a run that was
never interrupted: an order import (by the command and as a job), the points sweep, bound accounts' credits and
expiry reminders (see tests/reliability/flows.py; scripts/kill9.py runs the same flows many times).

Each case prints its random seed when it fails; `scripts/kill9.py --flow NAME --seed SEED --kills 3` replays it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from siyu.jobs.models import JobStatus
from tests.reliability import flows

KILLS = 3


def _kinds(outcome: flows.Outcome) -> set[str]:
    return {kind for (_member, kind, *_rest), _count in outcome.straight["entries"]}


def _jobs(outcome: flows.Outcome) -> set[str]:
    return {kind for (kind, _status, _payload), _count in outcome.straight["jobs"]}


# What the straight run must have done, so that the comparison is not of two empty databases.
DID_SOMETHING = {
    "import": lambda o: len(o.straight["orders"]) > 10_000 and "orders.arrived" in _jobs(o),
    "import_job": lambda o: len(o.straight["orders"]) > 10_000 and "orders.import" in _jobs(o),
    "sweep": lambda o: {"post", "expire"} <= _kinds(o) and bool(o.straight["warnings"]),
    "bound": lambda o: bool(o.straight["claims"]) and "earn_pending" in _kinds(o),
    "reminders": lambda o: bool(o.straight["warnings"]) and "loyalty.expiry_warning" in _jobs(o),
}


@pytest.mark.parametrize("name", list(flows.FLOWS))
def test_a_killed_command_ends_as_if_it_had_run_straight_through(name: str, tmp_path: Path) -> None:
    seed = int(os.environ.get("SIYU_KILL9_SEED") or flows.new_seed())
    outcome = flows.compare(flows.FLOWS[name], workdir=tmp_path, seed=seed, kills=KILLS)

    assert DID_SOMETHING[name](outcome), outcome.describe()
    assert outcome.landed > 0, outcome.describe()
    assert outcome.same, outcome.describe()
    statuses = {status for (_kind, status, _payload), _count in outcome.straight["jobs"]}
    assert JobStatus.running not in statuses, outcome.describe()
    if flows.FLOWS[name].step is flows.worker_step:  # the worker left nothing due (a notice may wait out quiet hours)
        assert statuses <= {JobStatus.done, JobStatus.queued}, outcome.describe()
        assert outcome.straight["due_jobs_left"] == [], outcome.describe()
