import subprocess
import sys

import openpyxl
import pytest

from reportlib.cli import main
from reportlib.load import write_domain

from .statements.dataset import billing_rows


def cli(*args, check=None):
    result = subprocess.run([sys.executable, "-m", "reportlib", *args], capture_output=True, text=True,
                            timeout=300)
    if check is not None:
        assert result.returncode == check, result.stdout + result.stderr
    return result


def test_run_with_bad_parameters_lists_every_problem_and_exits_2(sqlite_url):
    result = cli("run", "statement", "-p", "partnr", "P1", "-p", "month", "Oct", "--db", sqlite_url, check=2)
    assert "Invalid parameters for statement (3 problem(s))" in result.stderr
    assert "did you mean 'partner'" in result.stderr and "'Oct' is not a month" in result.stderr


def test_unknown_family_names_the_known_ones(sqlite_url):
    result = cli("run", "statment", "--db", sqlite_url, check=2)
    assert "Unknown report family 'statment'; known:" in result.stderr and "statement" in result.stderr


def test_params_file_and_cli_pairs_combine(tmp_path, sqlite_url):
    write_domain("billing", billing_rows(), url=sqlite_url, source="test")
    params = tmp_path / "p.yaml"
    params.write_text("partner: P9\nmonth: 2026-10\n")
    result = cli("run", "statement", "-f", str(params), "--db", sqlite_url, check=2)
    assert "No partner account 'P9'" in result.stderr and "P1" in result.stderr


def test_report_command_exports_one_report_with_its_conditions(tmp_path, sqlite_url):
    write_domain("billing", billing_rows(), url=sqlite_url, source="test")
    out = tmp_path / "credit.xlsx"
    assert main(["statements", "report", "total-credit", "--partner", "P1", "--from", "2026-10-01", "--to", "2026-10-31",
                 "--account-type", "customer", "-o", str(out), "--db", sqlite_url]) == 0
    ws = openpyxl.load_workbook(out)["Total credit"]
    values = list(ws.iter_rows(values_only=True))
    assert values[0][0] == "Total credit"
    header_at = next(i for i, row in enumerate(values) if row[:2] == ("Account", "Account name"))
    rows = {r[0]: r for r in values[header_at + 1:]}
    assert set(rows) == {"C1", "C2", "Total"} and rows["C1"][8] == 252.5
    out2 = tmp_path / "disc.xlsx"
    assert main(["statements", "report", "discounts", "--partner", "P1", "--month", "2026-10", "--status", "active",
                 "-o", str(out2), "--db", sqlite_url]) == 0
    ws = openpyxl.load_workbook(out2).active
    assert [r[4] for r in ws.iter_rows(values_only=True) if r[0] in ("C1", "P1")] == ["d1"]


def test_report_command_without_output_writes_into_outputs_not_the_current_folder(tmp_path, sqlite_url, monkeypatch,
                                                                                   capsys):
    write_domain("billing", billing_rows(), url=sqlite_url, source="test")
    here, outputs = tmp_path / "here", tmp_path / "outputs"
    here.mkdir()
    monkeypatch.chdir(here)
    monkeypatch.setenv("REPORTLIB_OUTPUTS", str(outputs))
    assert main(["statements", "report", "total-credit", "--partner", "P1", "--month", "2026-10", "--db", sqlite_url]) == 0
    written = outputs / "reports" / "total-credit-p1-2026-10-01.xlsx"
    assert f"Wrote {written}" in capsys.readouterr().out and list(here.iterdir()) == []
    ws = openpyxl.load_workbook(written)["Total credit"]
    assert ws["A1"].value == "Total credit" and any(row[0] == "C1" for row in ws.iter_rows(values_only=True))


def test_report_command_refuses_bad_periods(sqlite_url, capsys):
    write_domain("billing", billing_rows(), url=sqlite_url, source="test")
    assert main(["statements", "report", "credit-usage", "--partner", "P1", "--from", "2026-10-31", "--to", "2026-10-01",
                 "--db", sqlite_url]) == 2
    assert "is before --from" in capsys.readouterr().err


def test_demo_is_deterministic_and_exports_a_loadable_folder(tmp_path):
    from reportlib.demo import build_demo
    from reportlib.load import load_folder

    a = build_demo(f"sqlite:///{tmp_path / 'a.sqlite'}", seed=3, scale="small", domains=["billing"],
                   csv_folder=tmp_path / "csv")
    b = build_demo(f"sqlite:///{tmp_path / 'b.sqlite'}", seed=3, scale="small", domains=["billing"])
    assert a[0].rows == b[0].rows and a[0].fingerprint == b[0].fingerprint
    loaded = load_folder(tmp_path / "csv" / "billing", "billing", url=f"sqlite:///{tmp_path / 'c.sqlite'}")
    assert loaded.rows == a[0].rows


def test_params_command_describes_the_family(capsys):
    assert main(["params", "statement"]) == 0
    out = capsys.readouterr().out
    assert "partner" in out and "month YYYY-MM" in out


def test_init_creates_the_tables_of_every_domain(sqlite_url):
    import sqlalchemy as sa

    result = cli("init", "--db", sqlite_url, check=0)
    assert "Tables created" in result.stdout
    names = sa.inspect(sa.create_engine(sqlite_url)).get_table_names()
    for prefix in ("billing_", "qbr_", "rates_", "leads_"):
        assert any(n.startswith(prefix) for n in names), f"no {prefix} table after init"


def test_a_database_without_the_tables_is_one_clear_error_not_a_traceback(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    assert main(["batch", "qbr", "-p", "quarter", "2026Q3", "--db", url, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the database sqlite:///") and "empty.sqlite" in err
    assert "no such table: qbr_partners" in err and "`reportlib init`" in err and "Traceback" not in err
    assert main(["init", "--db", url]) == 0
    capsys.readouterr()
    assert main(["batch", "qbr", "-p", "quarter", "2026Q3", "--db", url, "--quiet"]) == 2
    assert "selects no entity" in capsys.readouterr().err


def test_an_unreachable_database_names_the_server_without_its_password(capsys):
    url = "postgresql+psycopg://someone:s3cret@127.0.0.1:9/nowhere"
    assert main(["run", "statement", "-p", "partner", "P001", "-p", "month", "2026-10", "--db", url]) == 2
    err = capsys.readouterr().err
    assert "127.0.0.1:9/nowhere" in err and "s3cret" not in err and "that the server runs" in err


def test_a_core_command_parses_as_it_does_with_every_command_group_loaded():
    """`reportlib run ...` leaves out the families' command groups (they import every family);
    what it accepts and says must not change."""
    from reportlib.cli import CORE_COMMANDS, build_parser

    full, core = build_parser(), build_parser(command_groups=False)
    subcommands = next(a for a in core._actions if a.dest == "command").choices
    assert set(subcommands) == CORE_COMMANDS
    groups = set(next(a for a in full._actions if a.dest == "command").choices) - CORE_COMMANDS
    assert groups >= {"statements", "qbr", "dashboard", "rates", "amendments"}
    for command in sorted(CORE_COMMANDS):
        assert core._subparsers._group_actions[0].choices[command].format_help() == \
            full._subparsers._group_actions[0].choices[command].format_help(), command
    argv = ["run", "dashboard", "-p", "month", "2026-10", "--force", "--db", "sqlite:///x.sqlite"]
    assert vars(core.parse_args(argv)) == vars(full.parse_args(argv))


def test_one_family_is_imported_without_the_others():
    code = ("import sys; from reportlib.families import get_family; get_family('dashboard'); "
            "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('reportlib.') and "
            "m.split('.')[1] in ('qbr', 'ratedesk', 'amendments', 'statements', 'dashboard')}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "['dashboard']"


def test_help_lists_the_families_command_groups():
    result = cli("--help", check=0)
    for group in ("statements", "qbr", "dashboard", "rates", "amendments", "run"):
        assert f"\n    {group} " in result.stdout or f"\n    {group}\n" in result.stdout, group
    assert "qbr-metrics" not in result.stdout and "\n    names" not in result.stdout  # old spellings: not listed


@pytest.mark.parametrize("old, new", [
    (["report", "total-credit", "--partner", "P1"], ["statements", "report", "total-credit", "--partner", "P1"]),
    (["qbr-metrics", "--quarter", "2026Q3"], ["qbr", "metrics", "--quarter", "2026Q3"]),
    (["names", "propose"], ["dashboard", "names", "propose"]),
    (["rates", "amendments", "send", "batch-1"], ["amendments", "send", "batch-1"]),
    (["rates", "amendments"], ["amendments"]),
])
def test_old_command_spellings_parse_as_the_new_ones(old, new):
    from reportlib.cli import _parser_for

    parser, argv = _parser_for(old + ["--db", "sqlite:///x.sqlite"])
    assert argv == new + ["--db", "sqlite:///x.sqlite"]
    assert vars(parser.parse_args(argv)).keys() >= {"handler", "db"}


def test_a_command_group_imports_its_own_family_alone():
    code = ("import sys; from reportlib.cli import _parser_for; _parser_for(['dashboard', 'names', 'export', 'x.csv']); "
            "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('reportlib.') and "
            "m.split('.')[1] in ('qbr', 'ratedesk', 'amendments', 'statements', 'dashboard')}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "['dashboard']"


def test_the_portal_declares_its_command_groups_tables_and_demo_users_as_entry_points():
    """The portal (an application, like the rate desk) registers as the families do: nothing in
    the core names it, and ``reportlib serve``/``users`` parse through their entry points."""
    from reportlib.cli import _parser_for
    from reportlib.registry import declared

    assert declared("reportlib.commands")["serve"].value == "reportlib.portal.commands:add_serve"
    assert declared("reportlib.commands")["users"].value == "reportlib.portal.commands:add_users"
    assert declared("reportlib.tables")["portal"].value == "reportlib.portal.data"
    assert declared("reportlib.demo_extras")["portal-users"].value == "reportlib.portal.demo:demo_users_lines"
    parser, argv = _parser_for(["users", "list", "--db", "sqlite:///x.sqlite"])
    assert vars(parser.parse_args(argv)).keys() >= {"handler", "db"}
    parser, argv = _parser_for(["serve", "--port", "0"])
    assert parser.parse_args(argv).port == 0


def test_delivery_declares_its_commands_domain_and_tables_as_entry_points(tmp_path):
    """Delivery registers as the families do (no import of ``cli.COMMANDS``): each of its command
    words parses through its own entry point, and ``init_db`` makes its tables from the declarations."""
    import sqlalchemy as sa

    from reportlib.cli import _parser_for
    from reportlib.db import init_db
    from reportlib.domains import get_domain
    from reportlib.registry import declared

    commands = declared("reportlib.commands")
    for word in ("send", "pdf", "catalogue", "due", "schedule"):
        assert commands[word].value == f"reportlib.delivery.commands:add_{word}"
    assert declared("reportlib.tables")["schedule"].value == "reportlib.delivery.schedule"
    assert get_domain("recipients").tables[0].name == "recipients"
    for argv, word in ((["send", "statement", "-p", "month", "2026-10"], "send"), (["catalogue"], "catalogue"),
                       (["due", "--now", "2026-11-02T06:00"], "due"), (["schedule"], "schedule"),
                       (["pdf", "qbr", "-p", "quarter", "2026Q3"], "pdf")):
        parser, rewritten = _parser_for(argv + ["--db", "sqlite:///x.sqlite"])
        assert parser.parse_args(rewritten).handler.__name__ == f"cmd_{word}"
    with init_db(f"sqlite:///{tmp_path / 'db.sqlite'}").connect() as conn:
        assert {"schedule_runs", "recipients", "delivery_log"} <= set(sa.inspect(conn).get_table_names())
