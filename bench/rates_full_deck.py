"""Time and peak memory of verifying and applying a full-deck rate change.

Builds the ``large`` rates demo (an A–Z deck of ~60,000 codes) unless ``--db`` already holds
it, fills a change deck with every area of the A–Z deck in each of its 4 plans (the plan's
current rate × 1.05, rounded half-up to 6 places), then verifies and applies it.

    .venv/bin/python bench/rates_full_deck.py [--db URL] [--reuse]

Peak memory is the process's maximum resident set size (ru_maxrss) after each phase.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path


PLANS = ("AZ Gold USD", "AZ Silver USD", "AZ Bronze EUR", "AZ Carrier GBP")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file in a temp folder)")
    parser.add_argument("--reuse", action="store_true", help="the database already holds the large demo")
    args = parser.parse_args()

    from reportlib.db import engine_for
    from reportlib.demo import build_demo
    from reportlib.ratedesk import VerifyOptions, apply_deck, modify_rates, rows_from_rates, verify_deck

    tmp = tempfile.TemporaryDirectory()
    url = args.db or f"sqlite:///{Path(tmp.name) / 'bench.sqlite'}"
    if not args.reuse:
        if url.startswith("postgresql"):
            from reportlib.db import init_db, metadata

            init_db(url)
            metadata.drop_all(engine_for(url))
        t = time.perf_counter()
        build_demo(url, scale="large", domains=["rates"])
        print(f"large rates demo built in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    engine = engine_for(url)
    print(f"after load: peak RSS {peak_mb():.0f} MB")
    with engine.connect() as conn:
        rows = [r for plan in PLANS for r in rows_from_rates(conn, plan)]
    rows = modify_rates(rows, "multiply", "1.05")
    rows = modify_rates([replace(r, row=n) for n, r in enumerate(rows, start=1)], "round", digits=6)
    options = VerifyOptions()

    t = time.perf_counter()
    with engine.connect() as conn:
        result = verify_deck(conn, rows, options)
    verify_s = time.perf_counter() - t
    assert result.ok, result.errors[:5]
    print(f"verify: {len(rows):,} deck rows -> {len(result.changes):,} changes {result.counts()} "
          f"in {verify_s:.2f} s; peak RSS {peak_mb():.0f} MB")

    t = time.perf_counter()
    applied = apply_deck(engine, rows, options, user="bench")
    apply_s = time.perf_counter() - t
    print(f"apply (verify again + write, one transaction): batch {applied.batch_id}, {applied.written} "
          f"in {apply_s:.2f} s; peak RSS {peak_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
