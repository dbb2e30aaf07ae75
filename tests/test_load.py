import shutil
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest
import sqlalchemy as sa

from reportlib.db import engine_for
from reportlib.demo import export_csv
from reportlib.domains import get_domain
from reportlib.errors import LoadError
from reportlib.load import load_folder
from reportlib.statements.data import accounts, credit_transactions

from .conftest import table_snapshot
from .statements.dataset import billing_rows


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "billing"
    export_csv(get_domain("billing"), billing_rows(), path)
    return path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def test_load_writes_every_file_with_exact_types(folder, db_url):
    summary = load_folder(folder, "billing", url=db_url)
    assert summary.rows == {"billing_accounts": 6, "billing_credit_transactions": 11, "billing_discounts": 5,
                            "billing_revenue_lines": 5}
    with engine_for(db_url).connect() as conn:
        amount = conn.execute(sa.select(credit_transactions.c.amount)
                              .where(credit_transactions.c.transaction_id == "t10")).scalar_one()
        assert amount == D("1.000001") and isinstance(amount, D)
        total = conn.execute(sa.select(sa.func.sum(credit_transactions.c.amount))).scalar_one()
        assert total == D("1452.500001")  # the eleven amounts of the dataset, adjustment -2.50 included


def test_loading_the_same_folder_twice_replaces_not_duplicates(folder, db_url):
    first = load_folder(folder, "billing", url=db_url)
    before = table_snapshot(db_url)
    second = load_folder(folder, "billing", url=db_url)
    after = table_snapshot(db_url)
    assert {k: v for k, v in after.items() if k != "reportlib_data_versions"} == \
        {k: v for k, v in before.items() if k != "reportlib_data_versions"}
    assert first.fingerprint == second.fingerprint  # same content, same fingerprint: nothing to re-run


def test_every_problem_is_reported_at_once_and_nothing_is_written(folder, db_url):
    load_folder(folder, "billing", url=db_url)
    before = table_snapshot(db_url)
    tx = folder / "credit_transactions.csv"
    edit(tx, "12.3456", "12.34.5")                      # bad number
    edit(tx, "2026-10-12T12:00:00", "2026-13-12T12:00:00")  # bad date
    edit(tx, ",accrual,", ",bonus,")                    # unknown enum value
    edit(tx, "t11,C3", "t11,C9")                        # reference to an unknown account
    edit(tx, "t02,", "t01,")                            # duplicate key
    disc = folder / "discounts.csv"
    disc.write_text(disc.read_text().replace("status", "state", 1))  # missing required column
    with pytest.raises(LoadError) as caught:
        load_folder(folder, "billing", url=db_url)
    problems = caught.value.problems
    found = {(p.file, p.row, p.column, p.value) for p in problems}
    assert ("credit_transactions.csv", 5, "amount", "12.34.5") in found
    assert ("credit_transactions.csv", 8, "occurred_at", "2026-13-12T12:00:00") in found
    assert ("credit_transactions.csv", 7, "kind", "bonus") in found
    assert ("discounts.csv", 1, "status", None) in found
    assert any(p.file == "credit_transactions.csv" and p.row == 3 and "duplicate key" in p.reason
               and "row 2" in p.reason for p in problems)
    message = str(caught.value)
    assert "nothing was written" in message and "not one of: topup, usage, accrual, adjustment" in message
    assert table_snapshot(db_url) == before


def test_a_refused_load_into_a_database_file_that_did_not_exist_leaves_no_file(folder, tmp_path):
    """A mistyped --db path with a bad folder: the load is refused and makes no database there;
    a good folder then makes it."""
    path = tmp_path / "typo" / "new.sqlite"
    edit(folder / "credit_transactions.csv", "12.3456", "abc")
    with pytest.raises(LoadError):
        load_folder(folder, "billing", url=f"sqlite:///{path}")
    assert sorted(p.name for p in path.parent.iterdir()) == []
    edit(folder / "credit_transactions.csv", "abc", "12.3456")
    load_folder(folder, "billing", url=f"sqlite:///{path}")
    assert path.is_file() and table_snapshot(f"sqlite:///{path}")
    edit(folder / "credit_transactions.csv", "12.3456", "abc")
    with pytest.raises(LoadError):  # an existing database is kept, as it was
        load_folder(folder, "billing", url=f"sqlite:///{path}")
    assert path.is_file()


def test_unknown_account_reference_is_named(folder, db_url):
    edit(folder / "credit_transactions.csv", "t11,C3", "t11,C9")
    with pytest.raises(LoadError) as caught:
        load_folder(folder, "billing", url=db_url)
    (problem,) = caught.value.problems
    assert (problem.file, problem.row, problem.column, problem.value) == ("credit_transactions.csv", 12,
                                                                          "account_id", "C9")
    assert "unknown account" in problem.reason


def test_rules_across_columns_and_files(folder, db_url):
    edit(folder / "revenue_lines.csv", "r2,C1,data,2026-10-15,2,2.5,5.00,0,5.00", "r2,C1,data,2026-10-15,2,2.5,5.00,0,4.00")
    edit(folder / "accounts.csv", "C3,Gamma Ltd,customer,P2", "C3,Gamma Ltd,customer,C1")
    edit(folder / "credit_transactions.csv", "t10,P1,2026-10-02T08:00:00,usage,sms,1.000001",
         "t10,P1,2026-10-02T08:00:00,usage,sms,-1.000001")
    with pytest.raises(LoadError) as caught:
        load_folder(folder, "billing", url=db_url)
    reasons = {(p.file, p.column): p.reason for p in caught.value.problems}
    assert "gross - discount = 5.00" in reasons[("revenue_lines.csv", "net")]
    assert "managed by a partner" in reasons[("accounts.csv", "partner_id")]
    assert "only adjustments may be negative" in reasons[("credit_transactions.csv", "amount")]


def test_missing_file_and_extra_columns(folder, db_url):
    edit(folder / "accounts.csv", "account_id,name", "account_id,notes,name")  # shifts values: caught as types
    (folder / "discounts.csv").unlink()
    with pytest.raises(LoadError) as caught:
        load_folder(folder, "billing", url=db_url)
    assert any(p.file == "discounts.csv" and "is missing" in p.reason for p in caught.value.problems)


def test_extra_columns_are_ignored(folder, db_url):
    path = folder / "accounts.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0] + ",extra"] + [line + ",x" for line in lines[1:]]) + "\n")
    assert load_folder(folder, "billing", url=db_url).rows["billing_accounts"] == 6


def test_codes_and_text_survive_as_written(folder, db_url):
    load_folder(folder, "billing", url=db_url)
    with engine_for(db_url).connect() as conn:
        name = conn.execute(sa.select(accounts.c.name).where(accounts.c.account_id == "C2")).scalar_one()
    assert name == '=HYPERLINK("http://x.invalid")'


def test_cli_load_exits_non_zero_with_the_problems(folder, sqlite_url):
    edit(folder / "credit_transactions.csv", "12.3456", "abc")
    result = subprocess.run([sys.executable, "-m", "reportlib", "load", "billing", str(folder), "--db", sqlite_url],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "credit_transactions.csv, row 5, column 'amount' (value 'abc'): not a decimal number" in result.stderr
    ok = subprocess.run([sys.executable, "-m", "reportlib", "load", "billing", str(folder), "--db", sqlite_url],
                        capture_output=True, text=True)
    assert ok.returncode == 2  # still broken: nothing half-loaded in between
    edit(folder / "credit_transactions.csv", "abc", "12.3456")
    ok = subprocess.run([sys.executable, "-m", "reportlib", "load", "billing", str(folder), "--db", sqlite_url],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "Loaded 27 rows" in ok.stdout
