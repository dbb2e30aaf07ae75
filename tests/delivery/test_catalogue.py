"""The catalogue: its records (the portal's API) and the page, opened in headless Chromium."""

from __future__ import annotations

import json
import subprocess

import pytest

from reportlib.delivery.catalogue import CACHE, entries, refresh_catalogue, render_catalogue, write_catalogue
from reportlib.render.chromium import Browser
from reportlib.delivery.send import send_reports

from ..smtp_server import Inbox

pytestmark = pytest.mark.kernel

VISIBLE_ROWS = ("Array.from(document.querySelectorAll('tr.entry')).filter(r => r.offsetParent !== null)"
                ".map(r => r.id)")


def test_entries_read_manifests_and_the_delivery_log(world, smtp_server):
    inbox = Inbox(refuse={"ceo@alpha.example": "550 5.1.1 no such user"})
    send_reports("statement", {"month": "2026-10"}, db_url=world.url, smtp=smtp_server(inbox))
    found = {e.stem: e for e in entries(world.out, world.url)}
    assert sorted(found) == ["a1-alpha-systems", "p1-alpha-partner", "p2-other-partner"]
    p1, a1 = found["p1-alpha-partner"], found["a1-alpha-systems"]
    assert (p1.family, p1.period, p1.entity, p1.name, p1.status) == ("statement", "October 2026", "P1",
                                                                      "Alpha Partner", "ok")
    assert p1.headline_text == "Closing balance 301.50"
    assert [f.name for f in p1.files][0] == "p1-alpha-partner.pdf" and p1.files[0].href == \
        "statements/2026-10/p1-alpha-partner.pdf"
    assert p1.delivery_status == ("sent (2): finance@alpha.example, archive@carrier.example; "
                                  "failed (1): ceo@alpha.example")
    assert a1.headline_text.startswith("Health score ") and "(" in a1.headline_text
    assert a1.delivery_status == "not sent" and {f.kind for f in a1.files} >= {"pdf", "pptx", "html"}


def test_the_page_opens_from_disk_its_search_filters_entities_and_its_links_work(world, tmp_path):
    page_path = write_catalogue(world.out, world.url)
    text = page_path.read_text()
    assert "<script src" not in text and "http" not in text.replace("http://www.w3.org", "")  # nothing online
    with Browser() as browser:
        page = browser.page()
        page.open(page_path.as_uri())
        everything = page.evaluate(VISIBLE_ROWS)
        assert len(everything) == 3
        page.evaluate("document.getElementById('search').focus()")
        page.type_text("other")
        assert page.evaluate(VISIBLE_ROWS) == ["statement-2026-10-p2-other-partner"]
        assert page.evaluate("document.getElementById('shown').textContent") == "1 of 3 report(s) match"
        page.evaluate("document.getElementById('search').value = ''")
        page.type_text("alpha")  # Alpha Partner and Alpha Systems, in two families
        assert sorted(page.evaluate(VISIBLE_ROWS)) == ["qbr-2026q3-a1-alpha-systems",
                                                       "statement-2026-10-p1-alpha-partner"]
        # Follow the statement's HTML link, as a reader would.
        page.evaluate("document.querySelector('#statement-2026-10-p1-alpha-partner a[title^=\"p1-alpha-partner.html\"]')"
                      ".click()")
        page.wait_for("location.href.endsWith('/statements/2026-10/p1-alpha-partner.html') "
                      "&& document.readyState === 'complete'")
        assert "Credit and revenue statement" in page.evaluate("document.body.innerText")
        links = page.evaluate("1")  # the browser is still answering
        assert links == 1
    hrefs = [f.href for e in entries(world.out, world.url) for f in e.files]
    assert hrefs and all((world.out / href).is_file() for href in hrefs)


def test_the_page_shows_an_earlier_version_and_to_whom_it_was_delivered(world, smtp_server):
    smtp = smtp_server(Inbox())
    send_reports("statement", {"month": "2026-10"}, db_url=world.url, smtp=smtp, entity="P1")
    world.change_p1()  # the run rebuilds the catalogue
    page_path = world.out / "index.html"
    with Browser() as browser:
        page = browser.page()
        page.open(page_path.as_uri())
        row = page.evaluate("document.getElementById('statement-2026-10-p1-alpha-partner').innerText")
        earlier = page.evaluate("Array.from(document.querySelectorAll("
                                "'#statement-2026-10-p1-alpha-partner .versions a')).map(a => a.href)")
    assert "Closing balance 1,301.50" in row and "this version not sent yet" in row
    assert "Earlier versions:" in row
    assert "delivered to finance@alpha.example, ceo@alpha.example, archive@carrier.example" in row
    pdf = next(href for href in earlier if href.endswith(".pdf"))
    assert "/statements/2026-10/versions/p1-alpha-partner/" in pdf
    assert "301.50" in subprocess.run(["pdftotext", pdf.removeprefix("file://"), "-"], check=True, capture_output=True,
                                      text=True, timeout=60).stdout


def test_each_version_of_a_report_lists_the_deliveries_of_its_own_messages(world, smtp_server):
    smtp = smtp_server(Inbox())
    send_reports("statement", {"month": "2026-10"}, db_url=world.url, smtp=smtp)
    world.change_p1(pdf=False)  # the send below makes its PDF and writes p1-alpha-partner.2.eml
    again = send_reports("statement", {"month": "2026-10"}, db_url=world.url, smtp=smtp, entity="P1")
    assert again.written == ["p1-alpha-partner.2.eml"]
    found = {e.stem: e for e in entries(world.out, world.url)}
    first, current = found["p1-alpha-partner"].versions
    p1 = {"finance@alpha.example", "ceo@alpha.example", "archive@carrier.example"}
    assert {d.address for d in first.delivered} == p1 and {d.eml for d in first.delivered} == {"p1-alpha-partner.eml"}
    assert {d.address for d in current.delivered} == p1
    assert {d.eml for d in current.delivered} == {"p1-alpha-partner.2.eml"}
    (p2,) = found["p2-other-partner"].versions
    assert {d.eml for d in p2.delivered} == {"p2-other-partner.eml"}


def _refreshed_as_rebuilt(world) -> tuple[int, int, str]:
    """Bring the catalogue up to date; check its page is the page made from every manifest; how
    many rows it made and kept, and the page."""
    done = refresh_catalogue(world.out, world.url, made="MADE")
    page = done.path.read_text(encoding="utf-8")
    assert page == render_catalogue(entries(world.out, world.url), made="MADE")
    return done.made, done.kept, page


def test_the_catalogue_remakes_only_the_rows_of_changed_reports_and_equals_a_full_rebuild(world):
    assert _refreshed_as_rebuilt(world)[:2] == (3, 0)  # a copied folder: nothing taken on trust
    assert _refreshed_as_rebuilt(world)[:2] == (0, 3)
    # A report's manifest changes (here its headline, as a re-run's would).
    manifest_path = world.statements / "p2-other-partner.manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["headline"]["figures"][0]["text"] = "999.99"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    made, kept, page = _refreshed_as_rebuilt(world)
    assert (made, kept) == (1, 2) and "Closing balance 999.99" in page
    # A file a manifest lists is deleted: its link goes.
    (world.statements / "p1-alpha-partner.pdf").unlink()
    made, kept, page = _refreshed_as_rebuilt(world)
    assert (made, kept) == (1, 2) and "p1-alpha-partner.pdf" not in page
    # A report is deleted: its row goes, the others are kept.
    (world.qbr / "a1-alpha-systems.manifest.json").unlink()
    made, kept, page = _refreshed_as_rebuilt(world)
    assert (made, kept) == (0, 2) and "a1-alpha-systems" not in page
    # A broken cache beside the page: every row is made again.
    (world.out / CACHE).write_text("{not json", encoding="utf-8")
    assert _refreshed_as_rebuilt(world)[:2] == (2, 0)
    assert refresh_catalogue(world.out, world.url, full=True).made == 2


def test_a_delivery_and_a_new_version_remake_their_report_row(world, smtp_server):
    _refreshed_as_rebuilt(world)
    send_reports("statement", {"month": "2026-10"}, db_url=world.url, smtp=smtp_server(Inbox()), entity="P1")
    made, kept, page = _refreshed_as_rebuilt(world)  # the delivery log changed, no manifest did
    assert (made, kept) == (1, 2) and "sent to finance@alpha.example" in page
    world.change_p1(pdf=False)  # the run brings the catalogue up to date itself
    made, kept, page = _refreshed_as_rebuilt(world)
    assert (made, kept) == (0, 3)
    assert "Earlier versions:" in page and "delivered to finance@alpha.example" in page


def test_the_catalogue_reads_the_delivery_log_without_the_mail_modules(tmp_path):
    """A run brings the catalogue up to date after its notebook ended: it reads the delivery log's
    tables (reportlib.delivery.tables), not the log's rules with their e-mail and SMTP modules."""
    import sys

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"  # no delivery tables yet: nothing was delivered
    code = ("import sys; from reportlib.delivery.catalogue import write_catalogue; "
            f"print(write_catalogue({str(tmp_path / 'out')!r}, {url!r}).name); "
            "print(sorted(m for m in sys.modules if m == 'smtplib' or m.startswith(('reportlib.delivery.log', "
            "'reportlib.delivery.mime', 'reportlib.delivery.smtp'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.split() == ["index.html", "[]"]
