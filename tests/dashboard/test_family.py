"""Dashboard parameters: exactly one period, caution_as, and month ranges for a batch."""

from __future__ import annotations

import pytest

from reportlib.dashboard.family import DashboardBatchParams, DashboardParams
from reportlib.errors import ParameterError
from reportlib.families import get_family
from reportlib.periods import IsoWeek, Month


def test_a_dashboard_is_a_month_or_an_iso_week():
    assert DashboardParams.parse({"month": "2026-10"}).period == Month(2026, 10)
    week = DashboardParams.parse({"week": "2026-W43", "caution_as": "Invalid"})
    assert (week.period, week.caution_as) == (IsoWeek(2026, 43), "invalid")
    with pytest.raises(ParameterError, match="exactly one of 'month'"):
        DashboardParams.parse({"month": "2026-10", "week": "2026-W43"})
    with pytest.raises(ParameterError, match="exactly one of 'month'"):
        DashboardParams.parse({})


def test_bad_parameters_are_all_listed_before_any_kernel_starts():
    with pytest.raises(ParameterError) as caught:
        DashboardParams.parse({"week": "2026-W60", "caution_as": "maybe", "mnth": "2026-10"})
    problems = "\n".join(caught.value.problems)
    assert "2026 has no ISO week 60" in problems
    assert "'maybe' is not one of: separate, invalid, valid" in problems
    assert "unknown parameter 'mnth' (did you mean 'month'?)" in problems


def test_a_batch_over_a_range_runs_once_per_month():
    family = get_family("dashboard")
    params = DashboardBatchParams.parse({"from_month": "2025-11", "to_month": "2026-02", "caution_as": "valid"})
    runs = family.entities(None, params)
    assert runs == [{"month": m, "caution_as": "valid"} for m in ("2025-11", "2025-12", "2026-01", "2026-02")]
    assert family.entities(None, DashboardBatchParams.parse({"week": "2026-W43"})) == \
        [{"week": "2026-W43", "caution_as": "separate"}]
    with pytest.raises(ParameterError, match="is before 'from_month'"):
        DashboardBatchParams.parse({"from_month": "2026-05", "to_month": "2026-01"})
    with pytest.raises(ParameterError, match="needs both"):
        DashboardBatchParams.parse({"from_month": "2026-05"})


def test_runs_of_each_caution_as_get_their_own_files():
    family = get_family("dashboard")
    stems = {family.stem(None, DashboardParams.parse({"month": "2026-10", "caution_as": c}))
             for c in ("separate", "invalid", "valid")}
    assert len(stems) == 3
    assert family.period(DashboardParams.parse({"week": "2026-W43"})) == "2026-W43"
