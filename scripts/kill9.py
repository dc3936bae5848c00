"""Kill -9 runs, many of them: each flow of tests/reliability/flows.py run N times, its command killed at random
moments and then run to completion, the final state compared with a run never interrupted.

    .venv/bin/python scripts/kill9.py                      # every flow 20 times on SQLite
    .venv/bin/python scripts/kill9.py --database postgres --runs 50 --kills 5
    .venv/bin/python scripts/kill9.py --flow sweep --seed 123456 --kills 3   # replay one failure

Prints one line per mismatch and, at the end, one JSON line: {"import": 20, ..., "mismatches": 0, ...}.
Exits 1 when a run ended differently.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--flow", action="append", help="only this flow (repeatable): import, import_job, sweep, bound, reminders"
    )
    parser.add_argument("--runs", type=int, default=20, help="runs per flow (default 20)")
    parser.add_argument("--kills", type=int, default=3, help="kills per run before running to completion")
    parser.add_argument("--seed", type=int, help="the first run's seed (the next runs add 1)")
    parser.add_argument(
        "--database", choices=("sqlite", "postgres"), default=os.environ.get("SIYU_TEST_DATABASE", "sqlite")
    )
    args = parser.parse_args()
    if not 0 < args.kills < 7:
        # A job whose worker died 8 times is parked for a person to look at, by design: not what is measured here.
        parser.error("--kills must be between 1 and 6 (a job is parked after 8 attempts)")
    os.environ["SIYU_TEST_DATABASE"] = args.database  # read by tests.support.databases

    from tests.reliability import flows

    names = args.flow or list(flows.FLOWS)
    unknown = sorted(set(names) - set(flows.FLOWS))
    if unknown:
        parser.error(f"unknown flow: {', '.join(unknown)}")
    first = args.seed if args.seed is not None else flows.new_seed()
    summary: dict[str, object] = {"database": args.database, "kills": args.kills, "first_seed": first}
    mismatches, landed, began = 0, 0, time.monotonic()
    failed: list[dict[str, object]] = []
    for name in names:
        for n in range(args.runs):
            seed = first + n
            with tempfile.TemporaryDirectory(prefix=f"kill9-{name}-") as workdir:
                outcome = flows.compare(flows.FLOWS[name], workdir=Path(workdir), seed=seed, kills=args.kills)
            landed += outcome.landed
            if not outcome.same:
                mismatches += 1
                failed.append({"flow": name, "seed": seed})
                print(outcome.describe(), file=sys.stderr, flush=True)
        summary[name] = args.runs
    summary.update(mismatches=mismatches, kills_landed=landed, failed=failed, seconds=round(time.monotonic() - began))
    print(json.dumps(summary, ensure_ascii=False))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
