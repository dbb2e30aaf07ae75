"""Write the family notebooks from readable cell lists (``python tools/nbmake.py``).

Notebooks are committed without outputs; this script is how we keep their JSON tidy. Edit a
notebook in Jupyter as usual, or edit here and regenerate.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook  # noqa: F401 (markdown for other families)

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def code(source: str, *tags: str):
    cell = new_code_cell(source.strip())
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def write(name: str, cells: list) -> Path:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"{Path(name).stem}-{index:02d}"
    path = NOTEBOOKS / name
    nbformat.validate(nb)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return path


def statement() -> Path:
    return write("statement.ipynb", [
        code('''
# Credit and revenue statement of one partner account for one month.
# Run with these defaults against the demo database, or: reportlib run statement -p partner P001 -p month 2026-10
partner = "P001"     # partner account id
month = "2026-10"    # YYYY-MM
db_url = None        # None: $REPORTLIB_DB or data/reportlib.sqlite
output_dir = None    # set by the runner; None writes to outputs/scratch/statements/
output_stem = None   # set by the runner
''', "parameters"),
        code('''
from IPython.display import HTML, display

import reportlib
from reportlib.render.charts import use_offline_charts
from reportlib.statements import StatementParams, statement_pack, write_pack_xlsx
from reportlib.statements import html

params = StatementParams.parse({"partner": partner, "month": month})
use_offline_charts()
with reportlib.connect(db_url) as conn:
    pack = statement_pack(conn, params.partner, params.month)
display(HTML(html.title_html(pack)))
display(HTML(html.headline_html(pack)), html.headline(pack))  # the headline also goes to the manifest
'''),
        code('html.balance_chart(pack)'),
        code('html.revenue_chart(pack)'),
        code('display(HTML(html.tables_html(pack)))'),
        code('''
xlsx = write_pack_xlsx(pack, reportlib.output_file(output_dir, output_stem, ".xlsx", folder="statements"))
'''),
    ])


def amendment() -> Path:
    return write("amendment.ipynb", [
        code('''
# Rate amendment of one customer for one rate plan: the XLSX sent to the customer and the billing CSV.
# Run with these defaults against the demo database, or: reportlib run amendment -p customer C001 -p rate_plan "Retail USD" -p batch 1
# It reads the database and writes files only; the runner records the run (reportlib amendments lists the record).
customer = "C001"          # customer id
rate_plan = "Retail USD"   # rate plan
batch = None               # change batch id; None regenerates the plan's current sheet without changes
at = None                  # regeneration only: the sheet as of this date, YYYY-MM-DD (None: now)
db_url = None              # None: $REPORTLIB_DB or data/reportlib.sqlite
output_dir = None          # set by the runner; None writes to outputs/scratch/amendments/
output_stem = None         # set by the runner
''', "parameters"),
        code('''
from IPython.display import HTML, display

import reportlib
from reportlib.amendments import AmendmentParams, html, write_documents
from reportlib.render.figures import count

params = AmendmentParams.parse({"customer": customer, "rate_plan": rate_plan, "batch": batch, "at": at})
target = reportlib.output_file(output_dir, output_stem, ".xlsx", folder="amendments")
made = write_documents(db_url, params.customer, params.rate_plan, params.batch, at=params.at,
                       output_dir=target.parent, stem=target.stem)
display(HTML(html.title_html(made.amendment)))
display(HTML(html.counts_html(made.amendment)))
'''),
        code('''
print(f"{made.xlsx.name}: {count(made.rows)} codes, {count(made.changes)} changed; XLSX in {made.xlsx_seconds:.2f} s, "
      f"peak {made.xlsx_peak_mb:.0f} MB" + (f"; billing CSV {made.csv.name}" if made.csv else ""))
display(HTML(html.sheet_html(made.amendment)))
'''),
    ])


def dashboard() -> Path:
    return write("dashboard.ipynb", [
        new_markdown_cell("Tech dashboard: lead volume and invalidation for one month or one ISO week. "
                          "Run with the defaults against the demo database, or through `reportlib run dashboard`."),
        code('''
month = "2026-10"         # YYYY-MM; set to None and give a week instead
week = None               # YYYY-Www, e.g. "2026-W43"
caution_as = "separate"   # separate | invalid | valid
db_url = None             # None: $REPORTLIB_DB or data/reportlib.sqlite
output_dir = None         # set by the runner; None writes to outputs/scratch/dashboard/
output_stem = None        # set by the runner
''', "parameters"),
        code('''
import time

from IPython.display import HTML, display

import reportlib
from reportlib.dashboard import DashboardParams, dashboard, write_dashboard_xlsx
from reportlib.dashboard import html

params = DashboardParams.parse({"month": month, "week": week, "caution_as": caution_as})
with reportlib.connect(db_url) as conn:
    dash = dashboard(conn, params.period, caution_as=params.caution_as)
rendering_started = time.perf_counter()
display(HTML(html.title_html(dash)))
display(HTML(html.headline_html(dash)), html.headline(dash))  # the headline also goes to the manifest
'''),
        code('display(HTML(html.trends_html(dash)))'),
        code('display(HTML(html.advertisers_html(dash)))'),
        code('display(HTML(html.publishers_html(dash)))'),
        code('display(HTML(html.channels_html(dash)))'),
        code('display(HTML(html.enterprise_types_html(dash)))'),
        code('display(HTML(html.failing_jobs_html(dash)))'),
        code('display(HTML(html.movers_html(dash)))'),
        code('display(HTML(html.enterprises_html(dash)))'),
        code('display(HTML(html.names_html(dash)))'),
        code('''
xlsx = write_dashboard_xlsx(dash, reportlib.output_file(output_dir, output_stem, ".xlsx", folder="dashboard"))
print(f"queries {dash.query_seconds:.2f} s, charts, tables and workbook {time.perf_counter() - rendering_started:.2f} s")
'''),
    ])


def qbr() -> Path:
    return write("qbr.ipynb", [
        new_markdown_cell("Quarterly business review of one partner: health score, KPIs against targets and tier, "
                          "insights and coaching plan, and the PPTX deck. Run with the defaults against the demo "
                          "database, or through `reportlib run qbr` / `reportlib batch qbr -p quarter 2026Q3`."),
        code('''
partner = "P001"              # partner id
quarter = "2026Q3"            # YYYYQn
reference_cycle_days = 180    # reference sales cycle of the health score, in days
db_url = None                 # None: $REPORTLIB_DB or data/reportlib.sqlite
output_dir = None             # set by the runner; None writes to outputs/scratch/qbr/
output_stem = None            # set by the runner
prepared = None               # set by a batch: every partner's metrics, computed once
''', "parameters"),
        code('''
from IPython.display import HTML, display

import reportlib
from reportlib import qbr
from reportlib.qbr import html
from reportlib.render.charts import use_offline_charts

params = qbr.QbrParams.parse({"partner": partner, "quarter": quarter,
                              "reference_cycle_days": reference_cycle_days})
use_offline_charts()  # JupyterLab draws the charts; the HTML page holds them as inline SVG
with reportlib.connect(db_url) as conn:
    # All partners' metrics of the quarter in one pass (or the batch's prepared copy of them);
    # the deck takes this partner's slice.
    review = qbr.partner_review(conn, params.partner, params.quarter, params.reference_cycle_days,
                                prepared=prepared)
display(HTML(html.title_html(review) + html.summary_html(review)),
        html.headline(review))  # the headline also goes to the manifest
'''),
        code('''
# The deck's slides in order: each one's figures, then its chart.
# Figures without a chart share one display: every display costs the kernel and the runner time.
display(HTML(html.section_html(review, "Revenue")), html.revenue_chart(review))
display(HTML(html.section_html(review, "Pipeline")), html.stage_chart(review))
display(HTML(html.section_html(review, "Deal registration funnel")), html.registration_chart(review))
display(HTML(html.section_html(review, "Engagement") + html.certifications_html(review)),
        html.portal_chart(review))
display(HTML(html.section_html(review, "Market development funds (MDF)")
             + html.section_html(review, "Customer experience") + html.benchmarks_html(review)),
        html.benchmark_chart(review))
display(HTML(html.health_html(review)), html.health_chart(review))
display(HTML(html.coaching_html(review) + html.notes_html(review)))
'''),
        code('''
deck = qbr.write_deck(review, reportlib.output_file(output_dir, output_stem, ".pptx", folder="qbr"))
'''),
    ])


def qbr_portfolio() -> Path:
    return write("qbr_portfolio.ipynb", [
        new_markdown_cell("Partner portfolio of one quarter: every active partner's health score, band, tier, "
                          "attainment, coverage and change since last quarter, worst first (XLSX + HTML)."),
        code('''
quarter = "2026Q3"            # YYYYQn
reference_cycle_days = 180    # reference sales cycle of the health score, in days
db_url = None                 # None: $REPORTLIB_DB or data/reportlib.sqlite
output_dir = None             # set by the runner; None writes to outputs/scratch/qbr/
output_stem = None            # set by the runner
''', "parameters"),
        code('''
from IPython.display import HTML, display

import reportlib
from reportlib import qbr
from reportlib.qbr import html
from reportlib.render.charts import use_offline_charts

params = qbr.QbrPortfolioParams.parse({"quarter": quarter, "reference_cycle_days": reference_cycle_days})
use_offline_charts()
with reportlib.connect(db_url) as conn:
    all_partners = qbr.quarter_metrics(conn, params.quarter, params.reference_cycle_days)
book = qbr.portfolio(all_partners)
display(html.portfolio_chart(book), html.portfolio_headline(book, params.quarter))
'''),
        code('display(HTML(html.portfolio_html(book, params.quarter)))'),
        code('''
xlsx = qbr.write_portfolio_xlsx(all_partners, book,
                                reportlib.output_file(output_dir, output_stem, ".xlsx", folder="qbr"))
'''),
    ])


if __name__ == "__main__":
    built = [statement(), qbr(), qbr_portfolio(), amendment(), dashboard()]
    for path in built:
        print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}", file=sys.stderr)
