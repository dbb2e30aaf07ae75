"""Statement file names: one entity, one file set, whatever its id looks like."""

from datetime import datetime
from decimal import Decimal as D
from pathlib import Path

import openpyxl
import pytest

from reportlib.batch import run_batch
from reportlib.load import write_domain
from reportlib.run import run_report

from .dataset import billing_rows

pytestmark = pytest.mark.kernel

# Ids that slug alike: by case, by punctuation, by surrounding spaces (write_domain stores them
# as given, as a database written by other means may hold them). Each partner is "Twin" and has
# its own top-up, so each statement's closing balance says whose figures it holds.
TWINS = {"P101": "1.00", "p101": "2.00", "P001": "3.00", "P001 ": "4.00", "P-101": "5.00", "P 101": "6.00"}


def _twins_data() -> dict[str, list[dict]]:
    data = billing_rows()
    for n, (account, amount) in enumerate(TWINS.items()):
        data["accounts.csv"].append(dict(account_id=account, name="Twin", account_type="partner",
                                         partner_id=account, status="active"))
        data["credit_transactions.csv"].append(dict(
            transaction_id=f"twin{n}", account_id=account, occurred_at=datetime(2026, 10, 2, 9), kind="topup",
            service=None, amount=D(amount), reference=None))
    return data


def _statement(path: Path) -> tuple[str, float]:
    """(partner, closing balance) as the workbook's Summary sheet shows them."""
    summary = {row[0]: row[1] for row in openpyxl.load_workbook(path)["Summary"].iter_rows(values_only=True)
               if row and row[0]}
    return summary["Partner"], summary["Closing balance"]


def test_ids_that_slug_alike_get_their_own_files_in_batch_and_run(db_url, tmp_path):
    write_domain("billing", _twins_data(), url=db_url, source="test")
    out = tmp_path / "out"
    result = run_batch("statement", {"month": "2026-10"}, out=out, db_url=db_url, workers=1, progress=False)
    assert result.ok, result.summary()
    folder = out / "statements" / "2026-10"
    stems = {r.parameters["partner"]: r.stem for r in result.results}
    assert len(stems) == len(TWINS) + 2  # P1 and P2 of the base data
    # distinct even where file names ignore case, and today's ids keep today's names
    assert len({stem.casefold() for stem in stems.values()}) == len(stems)
    assert (stems["P1"], stems["P2"], stems["P101"], stems["P001"]) == \
        ("p1-alpha-partner", "p2-other-partner", "p101-twin", "p001-twin")
    assert len(list(folder.glob("*.xlsx"))) == len(stems) == len(list(folder.glob("*.manifest.json")))
    for account, amount in TWINS.items():
        partner, closing = _statement(folder / f"{stems[account]}.xlsx")
        assert (partner, closing) == (f"{account} Twin", pytest.approx(float(amount))), account
    # one report alone is named as in the batch
    alone = run_report("statement", {"partner": "p101", "month": "2026-10"}, out=tmp_path / "alone", db_url=db_url)
    assert alone.stem == stems["p101"] and sorted(alone.files) == sorted(
        f"{stems['p101']}{suffix}" for suffix in (".html", ".ipynb", ".xlsx"))
    assert _statement(Path(alone.folder) / f"{alone.stem}.xlsx") == ("p101 Twin", pytest.approx(2.0))
