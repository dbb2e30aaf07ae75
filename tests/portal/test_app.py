"""The portal under uvicorn on 127.0.0.1, over real HTTP: sign-in, authorisation, downloads,
CSRF, throttling, security headers, error pages, on-demand rendering."""

from __future__ import annotations

import html
import http.client
import io
import re
import time

import openpyxl
import pytest

from reportlib.config import public_db_url

from .conftest import PARTNER_A, PARTNER_B, PASSWORDS, client, csrf_of, signed_in

pytestmark = pytest.mark.kernel

SECURITY = {"content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy"}


def render(http, family: str, period: str, partner: str | None = None, timeout: float = 240) -> dict:
    """Ask for an on-demand run as ``http``'s user and wait until it is done; its status."""
    page = http.get("/ondemand")
    data = {"csrf": csrf_of(page.text), "family": family, ("month" if family == "statement" else "quarter"): period}
    if partner:
        data["partner"] = partner
    response = http.post("/ondemand", data=data)
    assert response.status_code == 303, response.text[:1000]
    job = response.headers["location"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = http.get(f"{job}/status").json()
        if status["status"] in ("done", "failed"):
            return {**status, "url": job}
        time.sleep(0.2)
    raise AssertionError(f"{family} {period} not rendered within {timeout} s")


@pytest.fixture(scope="module")
def rendered(portal):
    """A statement of each partner (rendered on demand by an analyst) and partner A's QBR deck."""
    analyst = signed_in(portal, "ana")
    runs = {partner: render(analyst, "statement", "2026-10", partner) for partner in (PARTNER_A, PARTNER_B)}
    runs["qbr"] = render(analyst, "qbr", "2026Q3", PARTNER_A)
    assert all(r["status"] == "done" for r in runs.values()), runs
    return runs


def _files(run: dict) -> list[str]:
    r = run["result"]
    return [f"/files/{r['folder']}/{r['period']}/{r['stem']}{suffix}" for suffix in (".xlsx", ".html")]


def test_signing_in_sets_a_signed_httponly_samesite_cookie_and_signing_out_ends_the_session(portal):
    http = client(portal)
    assert http.get("/").headers["location"] == "/login?next=%2F"
    page = http.get("/login")
    response = http.post("/login", data={"csrf": csrf_of(page.text), "name": "alice", "password": PASSWORDS["alice"],
                                         "next": "/reports"})
    assert response.status_code == 303 and response.headers["location"] == "/reports"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    stolen = http.cookies.get("reportlib_session")
    home = http.get("/")
    assert home.status_code == 200 and "alice" in home.text
    assert http.post("/logout", data={"csrf": csrf_of(home.text)}).status_code == 303
    assert http.get("/").status_code == 303
    # The cookie as it was before signing out opens nothing: the session ended on the server.
    replay = client(portal)
    replay.cookies.set("reportlib_session", stolen)
    assert replay.get("/").status_code == 303
    # An edited cookie is not a session either.
    forged = client(portal)
    forged.cookies.set("reportlib_session", stolen[:-4] + "AAAA")
    assert forged.get("/").status_code == 303


def test_a_form_without_its_csrf_token_is_refused(portal):
    http = signed_in(portal, "root")
    home = http.get("/")
    token = csrf_of(home.text)
    for path, data in [("/logout", {}), ("/ondemand", {"family": "statement", "month": "2026-10", "partner": "P001"}),
                       ("/admin/users", {"name": "mallory", "role": "admin", "password": "a long password"}),
                       ("/admin/users/alice/disable", {}), ("/admin/users/alice/password", {"password": "x" * 12})]:
        for sent in ({**data}, {**data, "csrf": ""}, {**data, "csrf": token[:-1] + "x"}):
            response = http.post(path, data=sent)
            assert response.status_code == 403, (path, sent, response.status_code)
            assert "Form refused" in response.text
    fresh = client(portal)
    assert fresh.post("/login", data={"name": "alice", "password": PASSWORDS["alice"]}).status_code == 403
    assert http.get("/").status_code == 200  # still signed in: nothing changed
    users = http.get("/admin/users").text
    assert "mallory" not in users and re.search(r"<td>alice</td>.*?<td>yes</td>", users, re.S)


def test_repeated_wrong_passwords_are_throttled_even_for_the_right_password(portal):
    # From an address of its own (the server trusts X-Forwarded-For from 127.0.0.1).
    http = client(portal, **{"x-forwarded-for": "198.51.100.23"})
    token = csrf_of(http.get("/login").text)
    for attempt in range(5):
        response = http.post("/login", data={"csrf": token, "name": "carol", "password": f"wrong {attempt}"})
        assert response.status_code == 401 and "Wrong name or password" in response.text
    response = http.post("/login", data={"csrf": token, "name": "carol", "password": PASSWORDS["carol"]})
    assert response.status_code == 429 and int(response.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in response.text
    assert http.get("/").status_code == 303  # not signed in
    # From yet another address: the name stays throttled.
    other = client(portal, **{"x-forwarded-for": "198.51.100.24"})
    response = other.post("/login", data={"csrf": csrf_of(other.get("/login").text), "name": "carol",
                                          "password": PASSWORDS["carol"]})
    assert response.status_code == 429


def test_every_response_carries_the_security_headers(portal, rendered):
    http = signed_in(portal, "alice")
    responses = [http.get(p) for p in ("/", "/reports", "/ondemand", "/static/portal.css", "/static/portal.js",
                                       "/no-such-page", "/login")]
    responses.append(http.get(_files(rendered[PARTNER_A])[0]))
    responses.append(http.post("/logout", data={}))
    responses.append(client(portal).get("/"))
    for response in responses:
        assert SECURITY <= set(response.headers), (response.url, response.headers)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    csp = responses[0].headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    page = responses[0].text
    assert "<script>" not in page and "<script " not in page.replace('<script src="/static/portal.js" defer>', "")
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page)  # nothing from elsewhere
    download = responses[7]
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert "sandbox" in download.headers["content-security-policy"]
    assert responses[0].headers["cache-control"] == "no-store"


def test_partner_a_cannot_reach_partner_b_by_any_id_path_or_url_edit(portal, rendered):
    alice, bob = signed_in(portal, "alice"), signed_in(portal, "bob")
    own, other = _files(rendered[PARTNER_A]), _files(rendered[PARTNER_B])
    assert all(alice.get(path).status_code == 200 for path in own)
    assert all(bob.get(path).status_code == 200 for path in other)
    not_found = alice.get("/files/statements/2026-10/no-such-file.xlsx")
    assert not_found.status_code == 404
    b_accounts = re.findall(r'<option value="(P002-[^"]+)"', bob.get("/reports").text)
    assert b_accounts, "partner B manages customer accounts"
    r = rendered[PARTNER_B]["result"]
    attempts = [
        *other, *(p.replace("/files/", "/view/") for p in other),
        f"/files/{r['folder']}/{r['period']}/{r['stem']}.ipynb", f"/files/{r['folder']}/{r['period']}/{r['stem']}.manifest.json",
        f"/files/{r['folder']}/{r['period']}/manifest.json",
        f"/reports?report=total-credit&partner={PARTNER_B}&from=2026-10-01&to=2026-10-31",
        f"/reports/export?report=total-credit&partner={PARTNER_B}&from=2026-10-01&to=2026-10-31",
        f"/reports?report=revenue-detailed&account={b_accounts[0]}&from=2026-10-01&to=2026-10-31",
        f"/reports/export?report=credit-usage&account={b_accounts[0]}&from=2026-10-01&to=2026-10-31",
        f"/reports/export?report=credit-usage&account={PARTNER_B}&from=2026-10-01&to=2026-10-31",
        rendered[PARTNER_B]["url"], rendered[PARTNER_B]["url"] + "/status",
        "/admin/users",
    ]
    for path in attempts:
        response = alice.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert response.text == not_found.text  # the same page as for something that does not exist
    page = alice.get("/ondemand")
    response = alice.post("/ondemand", data={"csrf": csrf_of(page.text), "family": "statement", "month": "2026-10",
                                             "partner": PARTNER_B})
    assert response.status_code == 404
    home = alice.get("/").text
    assert rendered[PARTNER_B]["result"]["stem"] not in home and rendered[PARTNER_A]["result"]["stem"] in home
    assert ".ipynb" not in home  # executed notebooks are for analysts
    assert rendered[PARTNER_B]["result"]["stem"] in signed_in(portal, "ana").get("/").text


def test_traversal_in_download_paths_is_refused(portal, rendered):
    http = signed_in(portal, "ana")
    good = _files(rendered[PARTNER_A])[0]
    assert http.get(good).status_code == 200
    cookie = f"reportlib_session={http.cookies.get('reportlib_session')}"
    raw = ["/files/../../../../etc/passwd", "/files/statements/2026-10/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
           "/files/statements/..%2F..%2F/etc/passwd", "/files/%2e%2e/%2e%2e/etc/passwd",
           "/files/statements/2026-10/%2e%2e", "/view/..%2f..%2f..%2fetc/passwd/x",
           good.replace("/files/", "/files/./"), good + "%00.txt", good.replace("/files/statements", "/files/statements/."),
           "/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/files/statements/2026-10/" + "a" * 300]
    for path in raw:  # sent as written: http.client does not tidy the path as browsers do
        connection = http_client(portal)
        connection.request("GET", path, headers={"Cookie": cookie})
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
        assert response.status in (404, 400), (path, response.status)
        assert "root:" not in body and "import" not in body, path
        connection.close()


def http_client(portal):
    return http.client.HTTPConnection("127.0.0.1", portal.port, timeout=30)


def test_the_export_is_the_page_in_excel(portal):
    http = signed_in(portal, "bob")
    query = "report=total-credit&from=2026-10-01&to=2026-10-31&account_type=both"
    page = http.get(f"/reports?{query}")
    assert page.status_code == 200
    shown = [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
             for row in re.findall(r"<tr[^>]*>(.*?)</tr>", page.text.split('<table class="report"')[1], re.S)]
    export = re.search(r'id="export" href="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    response = http.get(export)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    from .conftest import sheet_table

    ws = openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0]
    headers = [html.unescape(re.sub(r"<[^>]+>", "", h)) for h in re.findall(r"<th[^>]*>(.*?)</th>", page.text)]
    assert [row for row in shown if row] == sheet_table(ws, headers)
    assert "6,126.21" in page.text  # the small demo's P002 closing balance total is exactly 6126.205


def test_no_password_database_url_or_traceback_in_any_page(portal, rendered):
    secrets = [*PASSWORDS.values(), portal.db_url, public_db_url(portal.db_url), portal.db_url.split("///")[-1],
               "Traceback", 'File "', "sqlalchemy", "test-secret-"]
    pages = []
    for name in ("alice", "ana", "root"):
        http = signed_in(portal, name)
        for path in ["/", "/reports", "/ondemand", "/admin/users", "/no-such-page", rendered[PARTNER_A]["url"],
                     "/reports?report=total-credit&partner=P001&from=2026-10-01&to=2026-10-31",
                     "/reports?report=discounts&from=bad-date", "/reports?report=credit-usage&from=2026-10-31&to=2026-10-01",
                     "/reports?report=credit-usage&partner=P001&account=%27%3Cscript%3E", "/jobs/not-a-job",
                     "/reports/export?report=total-credit&partner=P001&from=2026-13-01"]:
            pages.append(http.get(path))
        pages.append(http.post("/ondemand", data={"csrf": csrf_of(pages[0].text), "family": "statement",
                                                  "partner": "P001", "month": "2026-99"}))
        pages.append(http.post("/logout", data={"csrf": "wrong"}))
        pages.append(http.request("DELETE", "/"))
    anonymous = client(portal)
    pages += [anonymous.get("/login"), anonymous.post("/login", data={"csrf": "x", "name": "ana", "password": "nope"})]
    assert {p.status_code for p in pages} >= {200, 400, 403, 404, 405}
    for page in pages:
        for secret in secrets:
            assert secret not in page.text, (page.url, page.status_code, secret)
    bad_month = next(p for p in pages if p.request.method == "POST" and p.status_code == 400)
    assert "2026-99" in bad_month.text  # the problem is named, in words


def test_a_partner_renders_its_own_statement_on_demand_and_finds_it_in_its_documents(portal, rendered):
    alice = signed_in(portal, "alice")
    status = render(alice, "statement", "2026-09")
    assert status["status"] == "done" and status["partner"] == PARTNER_A, status
    job_page = alice.get(status["url"]).text
    links = re.findall(r'href="(/files/statements/2026-09/[^"]+)"', job_page)
    assert sorted(link.rsplit(".", 1)[1] for link in links) == ["html", "xlsx"]
    assert all(link in alice.get("/").text for link in links)
    workbook = openpyxl.load_workbook(io.BytesIO(alice.get(next(l for l in links if l.endswith(".xlsx"))).content))
    assert "Summary" in workbook.sheetnames
    assert alice.get(status["url"] + "/status").json()["result"]["stem"] == status["result"]["stem"]
    assert signed_in(portal, "bob").get(status["url"]).status_code == 404
    # The same request again: the run is up to date, nothing is executed again.
    again = render(alice, "statement", "2026-09")
    assert again["status"] == "done" and again["result"]["skipped"] is True


def test_on_demand_requests_with_bad_parameters_are_refused_before_anything_runs(portal):
    ana = signed_in(portal, "ana")
    token = csrf_of(ana.get("/ondemand").text)
    response = ana.post("/ondemand", data={"csrf": token, "family": "qbr", "partner": "P001", "quarter": "2026Q9"})
    assert response.status_code == 400 and "2026Q9" in response.text
    response = ana.post("/ondemand", data={"csrf": token, "family": "statement", "partner": "P999", "month": "2026-10"})
    assert response.status_code == 404
    response = ana.post("/ondemand", data={"csrf": token, "family": "dashboard", "partner": "P001"})
    assert response.status_code == 400


def test_an_admin_manages_users_from_the_users_page_and_others_cannot(portal):
    root = signed_in(portal, "root")
    page = root.get("/admin/users")
    assert page.status_code == 200 and "carol" in page.text
    response = root.post("/admin/users", data={"csrf": csrf_of(page.text), "name": "dora", "role": "partner",
                                               "partner": PARTNER_B, "password": "dora's password"})
    assert response.status_code == 200 and "User dora added" in response.text
    dora = signed_in(portal, "dora", "dora's password")
    assert dora.get("/reports?report=total-credit&from=2026-10-01&to=2026-10-31").status_code == 200
    response = root.post("/admin/users", data={"csrf": csrf_of(page.text), "name": "dora", "role": "analyst",
                                               "password": "short"})
    assert response.status_code == 400 and "exists already" in response.text and "at least 10" in response.text
    assert root.post("/admin/users/dora/disable", data={"csrf": csrf_of(page.text)}).status_code == 200
    assert dora.get("/").status_code == 303  # disabled: the session ended
    assert root.post("/admin/users/nobody/disable", data={"csrf": csrf_of(page.text)}).status_code == 404
    for name in ("ana", "alice"):
        other = signed_in(portal, name)
        token = csrf_of(other.get("/").text)
        assert other.get("/admin/users").status_code == 404
        assert other.post("/admin/users", data={"csrf": token, "name": "eve", "role": "admin",
                                                "password": "a long password"}).status_code == 404
    assert "eve" not in root.get("/admin/users").text


@pytest.mark.postgres
def test_a_server_error_is_a_page_of_ours_without_traceback_database_url_or_password(pg_url, tmp_path):
    """On PostgreSQL, whose URL holds a password: a query that fails shows our 500 page; the
    server's log has the traceback, with the password hidden."""
    import sqlalchemy as sa

    from reportlib.db import engine_for
    from reportlib.demo import build_demo
    from reportlib.portal.users import add_user

    from .conftest import start_server, stop_server

    build_demo(pg_url, scale="small", domains=["billing"])
    with engine_for(pg_url).begin() as conn:
        add_user(conn, "ana", "analyst", PASSWORDS["ana"])
    server = start_server(pg_url, tmp_path / "outputs", tmp_path / "server.log", "--kernels", "0", "--secure-cookies")
    try:
        # The cookie is for HTTPS only (httpx keeps it to itself on plain HTTP): sent by hand here.
        first = client(server).get("/login")
        assert "; secure" in first.headers["set-cookie"].lower()
        login = client(server).post("/login", headers={"cookie": first.headers["set-cookie"].split(";")[0]}, data={
            "csrf": csrf_of(first.text), "name": "ana", "password": PASSWORDS["ana"]})
        assert login.status_code == 303 and "; secure" in login.headers["set-cookie"].lower()
        http = client(server, cookie=login.headers["set-cookie"].split(";")[0])
        query = "/reports?report=revenue-detailed&partner=P001&from=2026-10-01&to=2026-10-31"
        assert http.get(query).status_code == 200
        with engine_for(pg_url).begin() as conn:
            conn.execute(sa.text("DROP TABLE billing_revenue_lines CASCADE"))
        page = http.get(query.replace("from=2026-10-01", "from=2026-09-01"))  # not a report the portal kept
        assert page.status_code == 500 and "Something went wrong" in page.text
        assert SECURITY <= set(page.headers)
        password = sa.engine.make_url(pg_url).password
        for secret in (pg_url, public_db_url(pg_url), f":{password}@", "Traceback", 'File "', "billing_revenue_lines",
                       "psycopg", PASSWORDS["ana"]):
            assert secret not in page.text, secret
        reference = re.search(r"reference ([0-9a-f]{8})", page.text).group(1)
        ondemand = http.get("/ondemand")
        assert "On-demand rendering is off" in ondemand.text
    finally:
        stop_server(server.process)
    log = server.log.read_text()
    assert reference in log and "billing_revenue_lines" in log  # the details are in the server's log
    assert f":{password}@" not in log
