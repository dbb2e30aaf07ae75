"""CPU a QBR deck takes to draw and write in memory (``build_deck`` + ``DeckWriter.to_bytes``),
median over repeats of the first N active partners' reviews (computed beforehand, not timed).

    .venv/bin/python bench/qbr_deck.py --db sqlite:///data/reportlib.sqlite --n 60 --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--quarter", default="2026Q3")
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    import reportlib
    from reportlib.qbr import partner_review, quarter_metrics
    from reportlib.qbr.pptx import build_deck

    with reportlib.connect(args.db) as conn:
        metrics = quarter_metrics(conn, args.quarter)
    rows = metrics.metrics
    partners = list(rows.loc[rows["status"] == "active", "partner_id"])[:args.n]
    reviews = [partner_review(metrics, partner, args.quarter) for partner in partners]
    build_deck(reviews[0]).to_bytes()  # warm: the template's parts, the chart templates, caches
    per_deck = []
    for _ in range(args.repeat):
        start = time.process_time()
        for review in reviews:
            build_deck(review).to_bytes()
        per_deck.append((time.process_time() - start) / len(reviews))
    print(f"{len(reviews)} decks, {args.repeat} repeats: median {statistics.median(per_deck) * 1000:.1f} ms CPU a deck")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
