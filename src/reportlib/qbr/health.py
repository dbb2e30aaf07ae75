"""The partner health score: the spec's weighted model of five components, and its bands.

Pure functions over one row of metrics (or a frame of them, one row per partner). Every term is
clipped to [0, 1]; a term with no input is left out of its component's average, a component
with no input at all is left out and the other weights scaled up to 100. Computed exactly in
``Decimal``; shown to one decimal rounded half up like every figure (:func:`round_score`), and
the band is decided on the shown score.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..render.figures import SCORE, rounded

if TYPE_CHECKING:  # the family's parameters take the reference cycle from here, with no pandas
    import pandas as pd

__all__ = ["BANDS", "COMPONENTS", "Component", "DEFAULT_REFERENCE_CYCLE_DAYS", "band_of", "health_score",
           "health_terms", "round_score"]

# The reference sales cycle of the efficiency term (``1 − sales velocity / reference cycle``), in days.
DEFAULT_REFERENCE_CYCLE_DAYS = 180

HUNDRED = Decimal(100)
ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True)
class Component:
    """One weighted component of the health score and its normalised terms."""

    key: str
    label: str
    weight: int
    terms: tuple[tuple[str, str, Callable[[Decimal], Decimal]], ...]  # (metric column, description, term)


def _c(x: Decimal) -> Decimal:
    return min(max(x, ZERO), ONE)


COMPONENTS: tuple[Component, ...] = (
    Component("revenue", "Revenue attainment", 30, (
        ("revenue_attainment_pct", "attainment / 100", lambda v: _c(v / 100)),)),
    Component("pipeline", "Pipeline health", 25, (
        ("pipeline_coverage_pct", "coverage / 200", lambda v: _c(v / 200)),
        ("conversion_rate_pct", "conversion / 50", lambda v: _c(v / 50)))),
    Component("engagement", "Engagement", 20, (
        ("training_rate_pct", "training / 100", lambda v: _c(v / 100)),
        ("portal_activity_pct", "portal activity / 100", lambda v: _c(v / 100)))),
    Component("satisfaction", "Customer satisfaction", 15, (
        ("csat", "CSAT / 5", lambda v: _c(v / 5)),)),
    Component("efficiency", "Deal efficiency", 10, (
        ("registration_win_rate_pct", "registration win rate / 40", lambda v: _c(v / 40)),
        ("cycle_ratio", "1 − sales velocity / reference cycle", lambda v: _c(1 - v)))),
)

BANDS: tuple[tuple[Decimal, str, str], ...] = (
    (Decimal(85), "Excellent", "Maintain and expand: recognise the partner, agree growth targets and co-selling "
                               "plays for next quarter."),
    (Decimal(70), "Good", "Optimise: pick the weakest component below and agree one improvement with the partner "
                          "this quarter."),
    (Decimal(55), "At Risk", "Intervene: agree a written recovery plan within 30 days and review it monthly."),
    (ZERO, "Critical", "Escalate: executive review within two weeks, a formal improvement plan and a review of the "
                       "partner's tier."),
)


def round_score(value: Decimal | None) -> Decimal | None:
    """A health score as shown: one decimal, half up like every figure (70.625 -> 70.6 as in the
    spec, 69.25 -> 69.3; :func:`reportlib.render.figures.score`)."""
    return rounded(value, SCORE.places)


def band_of(score: Decimal | None) -> tuple[str, str]:
    """(band, action required) for a score as shown (one decimal): 85+ Excellent, 70–84.9 Good,
    55–69.9 At Risk, below 55 Critical; ("No data", ...) without any component."""
    if score is None:
        return "No data", "Collect the missing inputs listed in the data notes before the review."
    shown = round_score(score)
    for low, band, action in BANDS:
        if shown >= low:
            return band, action
    return BANDS[-1][1], BANDS[-1][2]


def health_terms(row: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each component's normalised score for one partner (None when it has no data at all).

    Within a component, a term with no input is left out and the others averaged.
    """
    out = {}
    for comp in COMPONENTS:
        values = []
        for column, _desc, term in comp.terms:
            v = row.get(column)
            if v is not None and v == v:
                values.append(term(Decimal(v)))
        out[comp.key] = {"score": (sum(values, ZERO) / len(values)) if values else None}
    return out


def health_score(metrics: pd.DataFrame) -> pd.DataFrame:
    """The health score (0–100) of every partner row of ``metrics``.

    ``health = Σ weight × component score / Σ weights of components with data × 100``; with
    every component present that is exactly the spec's formula. Columns: ``<component>_score``
    (0–1), ``<component>_points`` (points after re-weighting), ``health_score`` (exact),
    ``health_display`` (one decimal), ``health_band``, ``health_action``, ``missing_components``.
    """
    import pandas as pd

    records = []
    for row in metrics.to_dict("records"):
        terms = health_terms(row)
        present = [c for c in COMPONENTS if terms[c.key]["score"] is not None]
        weight = sum(c.weight for c in present)
        record: dict[str, Any] = {}
        total = ZERO
        for comp in COMPONENTS:
            s = terms[comp.key]["score"]
            record[f"{comp.key}_score"] = s
            points = None if s is None else Decimal(comp.weight) * s * HUNDRED / weight
            record[f"{comp.key}_points"] = points
            total += points or ZERO
        score = total if present else None
        band, action = band_of(score)
        record.update(health_score=score, health_display=round_score(score), health_band=band, health_action=action,
                      missing_components=", ".join(c.label for c in COMPONENTS if c not in present))
        records.append(record)
    return pd.DataFrame(records, index=metrics.index)
