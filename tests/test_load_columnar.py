"""The streaming loader against today's row-by-row loader (kept in ``load_oracle``), and its
strictness: rows numbered as a spreadsheet shows them, every problem named, limits checked at
load on every database, nothing half-written even when the process is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal as D
from pathlib import Path

import pytest
import sqlalchemy as sa

from reportlib.db import engine_for
from reportlib.demo import export_csv
from reportlib.domains import get_domain
from reportlib.errors import ConfigError, LoadError
from reportlib.load import load_folder, write_domain

from .conftest import reset_database, table_snapshot
from .load_oracle import oracle_rows
from .statements.dataset import billing_rows

DOMAINS = ["billing", "qbr", "leads", "rates"]


def _without_versions(snapshot: dict) -> dict:
    return {k: v for k, v in snapshot.items() if k != "reportlib_data_versions"}


def _raw_tables(url: str, domain) -> dict[str, list[tuple]]:
    """What the database itself holds (no SQLAlchemy type in between), sorted."""
    tables = [*domain.tables, *domain.derived_tables]
    with engine_for(url).connect() as conn:
        return {t.name: sorted(map(repr, conn.exec_driver_sql(f'SELECT * FROM "{t.name}"').all())) for t in tables}


@pytest.mark.parametrize("name", DOMAINS)
def test_loader_writes_what_the_row_by_row_loader_wrote(name, db_url, tmp_path):
    domain = get_domain(name)
    folder = tmp_path / name
    export_csv(domain, domain.demo(7, "small"), folder)
    load_folder(folder, name, url=db_url)
    new, new_raw = table_snapshot(db_url), _raw_tables(db_url, domain)
    if db_url.startswith("postgresql"):
        reset_database(db_url)  # serial ids start again at 1, as they did for the first load
    write_domain(name, oracle_rows(folder, name), url=db_url, source="oracle")
    old, old_raw = table_snapshot(db_url), _raw_tables(db_url, domain)
    assert sum(len(v) for v in new_raw.values()) > 0
    assert _without_versions(new) == _without_versions(old)
    assert new_raw == old_raw  # the same stored text, integers and scaled decimals, not just equal values


def test_leads_day_tables_counted_while_loading_equal_the_sql_ones(db_url, tmp_path):
    domain = get_domain("leads")
    folder = tmp_path / "leads"
    export_csv(domain, domain.demo(11, "default"), folder)
    load_folder(folder, "leads", url=db_url)
    counted = _raw_tables(db_url, domain)
    with engine_for(db_url).begin() as conn:
        domain.derive(conn)
    assert _raw_tables(db_url, domain) == counted
    assert len(counted["leads_job_days"]) > 1000


# --- strictness -----------------------------------------------------------------------------

@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "billing"
    export_csv(get_domain("billing"), billing_rows(), path)
    return path


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _set_cell(path: Path, row: int, column: str, value: str) -> None:
    """Replace one cell of an unquoted CSV written by export_csv (row numbered as a spreadsheet)."""
    lines = _lines(path)
    header = lines[0].split(",")
    cells = lines[row - 1].split(",")
    cells[header.index(column)] = value
    lines[row - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _problems(folder: Path, url: str) -> set[tuple]:
    with pytest.raises(LoadError) as caught:
        load_folder(folder, "billing", url=url)
    return {(p.file, p.row, p.column, p.value, p.reason) for p in caught.value.problems}


def _where(problems: set[tuple]) -> set[tuple]:
    return {p[:4] for p in problems}


def test_rows_are_numbered_as_a_spreadsheet_shows_them_after_line_breaks(folder, sqlite_url):
    tx = folder / "credit_transactions.csv"
    lines = _lines(tx)
    # row 2's reference spans three lines; row 5 has a bad amount; row 9 one value too many
    lines[1] = lines[1].replace("ref t01", '"ref\nt01, on\nthree lines"')
    lines[4] = lines[4].replace("12.3456", "12.34.5")
    lines[8] = lines[8] + ",extra"
    lines[10] = lines[10].replace("1.000001", "x")
    tx.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = _where(_problems(folder, sqlite_url))
    assert found == {("credit_transactions.csv", 5, "amount", "12.34.5"),
                     ("credit_transactions.csv", 9, None, None),
                     ("credit_transactions.csv", 11, "amount", "x")}


def test_an_undecodable_byte_is_named_and_checking_goes_on(folder, sqlite_url):
    tx = folder / "credit_transactions.csv"
    data = tx.read_bytes().replace(b"ref t03", b"ref \xff03").replace(b"12.3456", b"12,34")
    tx.write_bytes(data)
    problems = _problems(folder, sqlite_url)
    assert ("credit_transactions.csv", 4, "reference", "ref \ufffd03") in _where(problems)
    assert any("not UTF-8" in p[4] for p in problems)
    assert ("credit_transactions.csv", 5, None, None) in _where(problems)  # "12,34" is one value too many


def test_a_column_named_twice_in_the_header_is_refused(folder, sqlite_url):
    path = folder / "accounts.csv"
    lines = _lines(path)
    path.write_text("\n".join([lines[0] + ",status"] + [line + ",closed" for line in lines[1:]]) + "\n")
    problems = _problems(folder, sqlite_url)
    (problem,) = [p for p in problems if p[0] == "accounts.csv"]
    assert problem[1:3] == (1, "status") and "appears 2 times in the header (columns E, F)" in problem[4]


def test_blank_header_cells_of_unused_columns_may_repeat(folder, sqlite_url):
    path = folder / "accounts.csv"
    lines = _lines(path)
    path.write_text("\n".join([lines[0] + ",,"] + [line + ",," for line in lines[1:]] + [",,,,,,", ""]) + "\n")
    assert load_folder(folder, "billing", url=sqlite_url).rows["billing_accounts"] == 6


@pytest.mark.parametrize("value", ["１２３", "١٢٣", "1２"])
def test_numbers_and_codes_take_ascii_digits_only(value, folder, sqlite_url):
    _set_cell(folder / "credit_transactions.csv", 5, "amount", value)
    _set_cell(folder / "revenue_lines.csv", 2, "quantity", value + ".5")
    found = _problems(folder, sqlite_url)
    assert ("credit_transactions.csv", 5, "amount", value) in _where(found)
    assert ("revenue_lines.csv", 2, "quantity", value + ".5") in _where(found)


def test_a_code_with_other_digits_is_refused(tmp_path, sqlite_url):
    domain = get_domain("rates")
    folder = tmp_path / "rates"
    export_csv(domain, domain.demo(7, "small"), folder)
    path = folder / "codes.csv"
    lines = _lines(path)
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("code")] = "٤٤"
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(LoadError) as caught:
        load_folder(folder, "rates", url=sqlite_url)
    assert [(p.row, p.column, p.value, p.reason) for p in caught.value.problems] == \
        [(2, "code", "٤٤", "a code must be digits only")]


def test_limits_of_the_database_are_checked_at_load_on_every_backend(folder, db_url):
    load_folder(folder, "billing", url=db_url)
    before = table_snapshot(db_url)
    tx = folder / "credit_transactions.csv"
    _set_cell(tx, 2, "occurred_at", "0001-01-01T00:30:00+01:00")
    _set_cell(tx, 3, "occurred_at", "9999-12-31T23:00:00-02:00")
    _set_cell(tx, 4, "amount", "9223372036854.775808")  # one millionth beyond a 64-bit scaled integer
    _set_cell(tx, 6, "amount", "1e22")
    _set_cell(tx, 7, "amount", "10000000000000000000000")
    _set_cell(tx, 8, "reference", "x" * 301)
    _set_cell(tx, 9, "reference", "a\x00b")
    _set_cell(folder / "accounts.csv", 2, "name", "n" * 301)
    found = _problems(folder, db_url)
    reasons = {p[:3]: p[4] for p in found}
    assert reasons[("credit_transactions.csv", 2, "occurred_at")] == "is outside the years 1 to 9999 once converted to UTC"
    assert reasons[("credit_transactions.csv", 3, "occurred_at")] == "is outside the years 1 to 9999 once converted to UTC"
    assert "beyond the range the database stores exactly (at most ±9,223,372,036,854.775807)" in \
        reasons[("credit_transactions.csv", 4, "amount")]
    assert reasons[("credit_transactions.csv", 6, "amount")].startswith("not a decimal number")
    assert "beyond the range" in reasons[("credit_transactions.csv", 7, "amount")]
    assert reasons[("credit_transactions.csv", 8, "reference")] == "is longer than the 300 characters the database column holds"
    assert "NUL" in reasons[("credit_transactions.csv", 9, "reference")]
    assert "300 characters" in reasons[("accounts.csv", 2, "name")]
    assert table_snapshot(db_url) == before


def test_the_largest_amount_and_the_first_and_last_instants_load_exactly(folder, db_url):
    from reportlib.statements.data import credit_transactions as tx

    path = folder / "credit_transactions.csv"
    _set_cell(path, 2, "occurred_at", "0001-01-01T01:30:00+01:00")
    _set_cell(path, 3, "occurred_at", "9999-12-31T21:59:59.999999-02:00")
    _set_cell(path, 8, "amount", "-9223372036854.775807")  # t07, an adjustment
    load_folder(folder, "billing", url=db_url)
    with engine_for(db_url).connect() as conn:
        rows = {r.transaction_id: r for r in conn.execute(sa.select(tx.c.transaction_id, tx.c.occurred_at, tx.c.amount))}
    assert rows["t07"].amount == D("-9223372036854.775807")
    assert str(rows["t01"].occurred_at) == "0001-01-01 00:30:00"
    assert str(rows["t02"].occurred_at) == "9999-12-31 23:59:59.999999"


def test_ids_with_leading_or_trailing_spaces_are_refused(folder, sqlite_url):
    _set_cell(folder / "accounts.csv", 3, "account_id", "C1 ")
    _set_cell(folder / "credit_transactions.csv", 4, "account_id", " C1")
    _set_cell(folder / "credit_transactions.csv", 5, "reference", " spaces are fine in text ")
    found = _problems(folder, sqlite_url)
    assert ("accounts.csv", 3, "account_id", "C1 ") in _where(found)
    assert ("credit_transactions.csv", 4, "account_id", " C1") in _where(found)
    assert not any(p[2] == "reference" for p in found)
    assert all("must not begin or end with spaces" in p[4] for p in found if p[2] == "account_id")


def test_problems_are_listed_200_per_column_and_the_rest_counted(folder, sqlite_url):
    tx = folder / "credit_transactions.csv"
    lines = _lines(tx)
    header = lines[0].split(",")
    template = lines[1].split(",")
    extra = []
    for i in range(250):
        cells = list(template)
        cells[header.index("transaction_id")] = f"x{i}"
        cells[header.index("amount")] = "lots"
        extra.append(",".join(cells))
    tx.write_text("\n".join(lines + extra) + "\n", encoding="utf-8")
    with pytest.raises(LoadError) as caught:
        load_folder(folder, "billing", url=sqlite_url)
    error = caught.value
    amounts = [p for p in error.problems if p.column == "amount"]
    assert len(amounts) == 200 and amounts[0].row == len(lines) + 1 and amounts[-1].row == len(lines) + 200
    assert error.omitted == {("credit_transactions.csv", "amount"): 50} and error.total == 250
    assert "... and 50 more in credit_transactions.csv, column 'amount'" in str(error)
    assert str(error).startswith("Cannot load 'billing': 250 problem(s)")


def test_a_database_url_with_a_bad_port_is_one_clear_error(tmp_path):
    for url in ("postgresql+psycopg://u:p@127.0.0.1:abc/db", "postgresql+psycopg://u:p@127.0.0.1:99999/db"):
        with pytest.raises(ConfigError, match="port"):
            engine_for(url)


def test_progress_bars_name_each_file_with_rows_per_second(folder, sqlite_url, capsys):
    load_folder(folder, "billing", url=sqlite_url, progress=True)
    err = capsys.readouterr().err
    # one pass: each file is read, checked and written under one bar
    assert all(f"load {f}" in err for f in ("accounts.csv", "credit_transactions.csv"))
    assert "check " not in err and "write " not in err
    assert "rows/s" in err


# --- killed half-way ------------------------------------------------------------------------

KILLER = """
import sys
from reportlib.load import load_folder
load_folder(sys.argv[1], "leads", url=sys.argv[2])
"""


def _kill_while_writing(folder: Path, url: str, writing) -> None:
    process = subprocess.Popen([sys.executable, "-c", KILLER, str(folder), url], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while not writing():
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the load never started writing"
            time.sleep(0.05)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def many_leads(tmp_path_factory) -> Path:
    domain = get_domain("leads")
    folder = tmp_path_factory.mktemp("many") / "leads"
    export_csv(domain, domain.demo(7, "default"), folder)
    rows = _lines(folder / "lead_jobs.csv")
    # more jobs (new job names for the same leads): a write that lasts long enough to be killed
    more = [rows[0]] + [f"{line.split(',')[0]},{job}{line.split(',', 1)[1].split(',')[0]},pass"
                        for job in ("a", "b", "c", "d", "e", "f") for line in rows[1:]]
    (folder / "lead_jobs.csv").write_text("\n".join(more + rows[1:]) + "\n", encoding="utf-8")
    return folder


def test_a_load_killed_while_writing_leaves_sqlite_as_it_was(many_leads, sqlite_url, tmp_path):
    small = tmp_path / "small"
    export_csv(get_domain("leads"), get_domain("leads").demo(3, "small"), small)
    first = load_folder(small, "leads", url=sqlite_url)
    before = table_snapshot(sqlite_url)
    engine_for(sqlite_url).dispose()
    wal = Path(sqlite_url.removeprefix("sqlite:///") + "-wal")
    start = wal.stat().st_size if wal.exists() else 0
    _kill_while_writing(many_leads, sqlite_url, lambda: wal.exists() and wal.stat().st_size > start + (4 << 20))
    assert table_snapshot(sqlite_url) == before
    assert load_folder(small, "leads", url=sqlite_url).rows == first.rows  # and the database still works


def test_a_load_killed_while_copying_leaves_postgresql_as_it_was(many_leads, pg_url, tmp_path):
    small = tmp_path / "small"
    export_csv(get_domain("leads"), get_domain("leads").demo(3, "small"), small)
    first = load_folder(small, "leads", url=pg_url)
    before = table_snapshot(pg_url)

    def copying() -> bool:
        with engine_for(pg_url).connect() as conn:
            return bool(conn.exec_driver_sql("SELECT count(*) FROM pg_stat_progress_copy "
                                             "WHERE tuples_processed > 0").scalar())
    _kill_while_writing(many_leads, pg_url, copying)
    deadline = time.monotonic() + 60
    while True:  # the server notices the dead client and rolls its transaction back
        with engine_for(pg_url).connect() as conn:
            busy = conn.exec_driver_sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                        "AND pid <> pg_backend_pid() AND state <> 'idle'").scalar()
        if not busy or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert table_snapshot(pg_url) == before
    assert load_folder(small, "leads", url=pg_url).rows == first.rows


def test_row_numbers_stay_right_across_chunks_with_skipped_rows_and_line_breaks(tmp_path):
    """Against Python's csv module, which counts records as a spreadsheet shows rows."""
    import csv
    import random

    from reportlib.loadcolumns import read_chunks

    spec = get_domain("leads").spec("lead_jobs.csv")
    rng = random.Random(5)
    lines = ["lead_id,job,outcome"]
    for i in range(3000):
        pick = rng.random()
        if pick < 0.02:
            lines.append(f"L{i},too,many,values")
        elif pick < 0.04:
            lines.append(f'L{i},"a job\nover\r\ntwo lines",pass')
        elif pick < 0.05:
            lines.append("")
        else:
            lines.append(f"L{i},check,pass")
    path = tmp_path / "lead_jobs.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    reported: list[int] = []
    chunks = list(read_chunks(spec, path, lambda row, column, value, reason: reported.append(row), block_size=4096))
    assert len(chunks) > 10
    got = {int(r): lead for chunk in chunks for r, lead in zip(chunk.rows, chunk.raw["lead_id"].to_pylist())}
    with path.open(newline="", encoding="utf-8") as handle:
        records = list(csv.reader(handle))
    expected = {n: record[0] for n, record in enumerate(records, start=1) if n > 1 and len(record) == 3}
    assert got == expected
    assert reported == [n for n, record in enumerate(records, start=1) if len(record) not in (0, 3)]


# --- foreign keys that no reference of the files covers -------------------------------------

@pytest.fixture
def unreferenced_key_domain():
    """A domain whose child table has a foreign key that its file declares no reference for."""
    from reportlib.domains import DOMAINS, Domain, Field, FileSpec

    schema = sa.MetaData()
    parents = sa.Table("probe_parents", schema, sa.Column("parent_id", sa.String(16), primary_key=True))
    children = sa.Table("probe_children", schema, sa.Column("child_id", sa.String(16), primary_key=True),
                        sa.Column("parent_id", sa.String(16), sa.ForeignKey("probe_parents.parent_id"), nullable=False))
    DOMAINS.register("probe-keys", Domain("probe-keys", (
        FileSpec("parents.csv", parents, (Field("parent_id"),), key=("parent_id",)),
        FileSpec("children.csv", children, (Field("child_id"), Field("parent_id")), key=("child_id",)),
    )))
    yield schema
    DOMAINS._items.pop("probe-keys")


def test_a_foreign_key_no_reference_covers_is_still_enforced_and_nothing_is_written(
        unreferenced_key_domain, sqlite_url, tmp_path):
    engine = engine_for(sqlite_url)
    unreferenced_key_domain.create_all(engine)
    folder = tmp_path / "probe"
    folder.mkdir()
    (folder / "parents.csv").write_text("parent_id\nP1\n", encoding="utf-8")
    (folder / "children.csv").write_text("child_id,parent_id\nC1,P1\n", encoding="utf-8")
    load_folder(folder, "probe-keys", url=sqlite_url)
    (folder / "children.csv").write_text("child_id,parent_id\nC1,P1\nC2,P9\n", encoding="utf-8")
    with pytest.raises(LoadError) as caught:
        load_folder(folder, "probe-keys", url=sqlite_url)
    assert "probe_children" in str(caught.value) and "probe_parents" in str(caught.value)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT child_id, parent_id FROM probe_children").all() == [("C1", "P1")]


# --- date-times written in one form -----------------------------------------------------------

@pytest.mark.parametrize("cells", [
    ["2025-09-01T00:00:47", "0001-01-01 00:00:00", "9999-12-31T23:59:59", "2024-02-29T12:30:05"],
    ["2025-09-01T00:00:47", "2023-02-29T00:00:00", "2025-01-01T24:00:00", "2025-01-01T10:60:00",
     "2025/01/01T00:00:00", "0000-01-01T00:00:00", "2025-01-01T00:00:60", "2025-01-01x00:00:00"],
])
def test_a_column_of_date_times_in_one_form_reads_as_the_rule_for_one_cell(cells):
    import pyarrow as pa

    from reportlib.load import parse_value
    from reportlib.loadcolumns import column_rules, typed_column

    spec = get_domain("leads").spec("leads.csv")
    fld = spec.field("created_at")
    values, found = typed_column(fld, pa.array(cells), column_rules(spec, fld, set()), parse_value)
    reasons = {}
    for mask, reason in found:
        for n, i in enumerate(mask.nonzero()[0]):
            reasons[int(i)] = reason[n] if isinstance(reason, list) else reason
    for i, cell in enumerate(cells):
        try:
            expected = parse_value(fld, cell)
        except ValueError as exc:
            assert reasons.get(i) == str(exc), cell
        else:
            assert i not in reasons and values[i].as_py() == expected, cell


def test_a_duplicate_key_that_the_table_meets_while_writing_is_reported_and_nothing_is_kept(db_url, tmp_path):
    # Checked and written in one pass: the table's primary key refuses the duplicate as it is
    # written, before the check of the whole file's keys finds it. The load names the problem
    # (not the database's error) and rolls back what it wrote.
    domain = get_domain("leads")
    small = tmp_path / "small"
    export_csv(domain, domain.demo(3, "small"), small)
    load_folder(small, "leads", url=db_url)
    before = table_snapshot(db_url)
    folder = tmp_path / "leads"
    export_csv(domain, domain.demo(7, "small"), folder)
    lines = _lines(folder / "leads.csv")
    first, last = lines[1].split(",", 1)[0], lines[-1].split(",", 1)
    lines[-1] = f"{first},{last[1]}"  # the last lead takes the first one's id
    (folder / "leads.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(LoadError) as refused:
        load_folder(folder, "leads", url=db_url)
    problems = refused.value.problems
    assert [(p.file, p.row, p.column) for p in problems] == [("leads.csv", len(lines), "lead_id")]
    assert problems[0].reason == "duplicate key (lead_id); first seen on row 2"
    assert table_snapshot(db_url) == before
