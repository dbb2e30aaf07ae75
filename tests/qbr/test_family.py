"""The QBR family as the runner sees it: run names, one at a time and all at once."""

from __future__ import annotations

import pytest

import reportlib
from reportlib.errors import UnknownEntityError
from reportlib.load import write_domain
from reportlib.qbr.family import QbrParams, _stem, _stems

from .dataset import qbr_rows


def test_stems_name_every_partner_as_stem_does_in_one_query(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    rows = qbr_rows()
    write_domain("qbr", rows, url=url, source="test")
    many = [QbrParams.parse({"partner": p["partner_id"], "quarter": "2026Q3"}) for p in rows["partners.csv"]]
    with reportlib.connect(url) as conn:
        assert _stems(conn, many) == [_stem(conn, p) for p in many]
        with pytest.raises(UnknownEntityError, match="No partner 'NOPE' in the database. Check the id"):
            _stems(conn, [*many, QbrParams.parse({"partner": "NOPE", "quarter": "2026Q3"})])


def test_an_unknown_partner_is_one_clear_error_from_the_cli(tmp_path, capsys):
    from reportlib.cli import main

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    write_domain("qbr", qbr_rows(), url=url, source="test")
    assert main(["run", "qbr", "-p", "partner", "NOPE", "-p", "quarter", "2026Q3", "--db", url,
                 "--out", str(tmp_path / "out")]) != 0
    err = capsys.readouterr().err
    assert "No partner 'NOPE' in the database" in err and "Traceback" not in err


def test_planning_a_run_and_readying_its_page_import_no_pandas_altair_or_openpyxl(tmp_path):
    """What `reportlib run qbr` does in its own process while the kernel starts and imports the
    notebook's modules: plan the run and ready the HTML export. Neither needs the computing and
    drawing libraries, which only the kernel uses (each is seconds of CPU the kernel would share)."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    write_domain("qbr", qbr_rows(), url=url, source="test")
    script = (
        "import sys\n"
        "from reportlib.families import get_family\n"
        "from reportlib.run import plan_run\n"
        "from reportlib.render import html\n"
        f"plan = plan_run(get_family('qbr'), {{'partner': 'A1', 'quarter': '2026Q3'}}, db_url={url!r},\n"
        f"                out={str(tmp_path / 'out')!r})\n"
        "html.warm_html_export()\n"
        "html._warming.join()\n"
        "assert html._idle_exporters, 'the page export is not ready'\n"
        "print(sorted(m for m in ('pandas', 'altair', 'openpyxl', 'pptx') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
