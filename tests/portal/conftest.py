"""The portal under test: a small demo database, users of every role, and the real server.

``portal`` starts ``reportlib serve`` (uvicorn) in a child process on a free port of 127.0.0.1
(:mod:`tests.portal.server`) and talks to it over HTTP; it trusts X-Forwarded-For from
127.0.0.1, so a test can sign in "from" an address of its own (the throttling tests) without
locking the others out.
"""

from __future__ import annotations

import re
import shutil
from decimal import ROUND_HALF_UP, Decimal

import pytest

from reportlib.render.text import FORMULA_TRIGGERS

from .server import Server, start_server, stop_server

PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-22", "carol": "carol-password-333",
             "ana": "analyst-password-4", "root": "admin-password-55"}
PARTNER_A, PARTNER_B = "P001", "P002"


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> str:
    """A small demo database (billing and QBR data) with the portal's test users."""
    from reportlib.db import engine_for
    from reportlib.demo import build_demo
    from reportlib.portal.users import add_user

    url = f"sqlite:///{tmp_path_factory.mktemp('portal-db') / 'portal.sqlite'}"
    build_demo(url, scale="small", domains=["billing", "qbr"])
    with engine_for(url).begin() as conn:
        add_user(conn, "alice", "partner", PASSWORDS["alice"], partner=PARTNER_A)
        add_user(conn, "bob", "partner", PASSWORDS["bob"], partner=PARTNER_B)
        add_user(conn, "carol", "partner", PASSWORDS["carol"], partner=PARTNER_A)
        add_user(conn, "ana", "analyst", PASSWORDS["ana"])
        add_user(conn, "root", "admin", PASSWORDS["root"])
    return url


@pytest.fixture(scope="session")
def portal(demo_db, tmp_path_factory):
    """The portal over the demo database, with one warm kernel for on-demand rendering."""
    folder = tmp_path_factory.mktemp("portal")
    server = start_server(demo_db, folder / "outputs", folder / "server.log")
    try:
        yield server
    finally:
        stop_server(server.process)


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def client(server: Server, **headers):
    import httpx

    return httpx.Client(base_url=server.url, follow_redirects=False, timeout=60, headers=headers)


def signed_in(server: Server, name: str, password: str | None = None, **headers):
    """An HTTP client with ``name``'s session."""
    http = client(server, **headers)
    page = http.get("/login")
    response = http.post("/login", data={"csrf": csrf_of(page.text), "name": name,
                                         "password": password or PASSWORDS[name], "next": "/"})
    assert response.status_code == 303, (response.status_code, response.text[:500])
    return http


def excel_text(cell) -> str:
    """A cell's value as a spreadsheet displays it with its number format (half up on the
    shortest decimal text of the stored double, as Excel and LibreOffice do)."""
    from datetime import date, datetime

    value, fmt = cell.value, cell.number_format
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ") if "h" in fmt else value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        # Text a spreadsheet could take for a formula is written with a quote before it (OWASP):
        # the cell holds the same name.
        return value[1:] if value.startswith("'") and value[1:2] in FORMULA_TRIGGERS else value
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return str(value)
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    places = len(fmt.split(".")[1].rstrip("%")) if "." in fmt else 0
    rounded = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{rounded:,.{places}f}" if "," in fmt else f"{rounded:.{places}f}"


def sheet_table(ws, headers: list[str]) -> list[list[str]]:
    """The rows under the header row ``headers`` of an exported sheet, as the spreadsheet shows them."""
    rows = list(ws.iter_rows())
    for index, row in enumerate(rows):
        if [c.value for c in row[:len(headers)]] == headers:
            return [[excel_text(c) for c in r[:len(headers)]] for r in rows[index + 1:]
                    if any(c.value is not None for c in r)]
    raise AssertionError(f"no header row {headers} in sheet {ws.title}")


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")
