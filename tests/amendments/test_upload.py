"""Upload to external billing against a real HTTP server on 127.0.0.1 and into a folder, on both engines."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from reportlib.amendments.data import amendments, billing_uploads
from reportlib.cli import main
from reportlib.db import engine_for
from reportlib.errors import ConfigError
from reportlib.ratedesk import data as s
from reportlib.amendments.upload import upload_period
from reportlib.delivery.upload import FolderUploader, HttpUploader, uploader_for

from ..billing_server import Billing, start
from ..conftest import table_snapshot
from .dataset import apply_batch, generate


@pytest.fixture
def made(db_url, tmp_path, monkeypatch):
    """A change batch with the billing CSVs of C1 × P1 (E1/EP1) and C1 × P2 (E1/EP2); C2 × P1 has none."""
    batch = apply_batch(db_url)
    out = tmp_path / "batch"
    for customer, plan in [("C1", "P1"), ("C2", "P1"), ("C1", "P2")]:
        generate(db_url, customer, plan, batch, output_dir=out, stem=f"{customer}-{plan}", user="analyst")
    monkeypatch.setenv("REPORTLIB_BILLING_TOKEN", "s3cret-token")
    return db_url, batch, out


@pytest.fixture
def billing():
    servers = []

    def make(**kw) -> Billing:
        found = Billing(**kw)
        servers.append(start(found)[0])
        return found

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


def records(url: str) -> dict[str, tuple]:
    a = amendments.c
    with engine_for(url).connect() as conn:
        return {f"{r.customer_id} × {r.rate_plan}": (r.upload_status, r.uploaded_at)
                for r in conn.execute(sa.select(a.customer_id, a.rate_plan, a.upload_status, a.uploaded_at))}


def test_http_upload_is_retried_after_a_refusal_and_never_uploaded_twice(made, billing, capsys):
    url, batch, out = made
    server = billing(refuse_first=1)
    uploader = HttpUploader(server.url + "/customers/{ext_billing_customer}/plans/{ext_billing_rate_plan}/rates",
                            delays=(0.05,))
    report = upload_period(engine_for(url), f"batch-{batch}", uploader, user="analyst")
    assert report.uploaded == ["C1 × P1", "C1 × P2"] and not report.failed
    assert len(server.requests) == 3  # refused once, accepted on retry, then the second plan
    first, retried = server.requests[0], server.requests[1]
    assert first.headers["idempotency-key"] == retried.headers["idempotency-key"]  # the same upload, retried
    assert {r.headers["authorization"] for r in server.requests} == {"Bearer s3cret-token"}
    accepted = sorted(server.accepted.values(), key=lambda r: r.path)
    assert [r.path for r in accepted] == ["/customers/E1/plans/EP1/rates", "/customers/E1/plans/EP2/rates"]
    assert accepted[0].body == (out / "C1-P1.billing.csv").read_bytes()  # the billing CSV, byte for byte
    assert accepted[0].headers["x-billing-customer"] == "E1" and accepted[0].headers["content-type"].startswith(
        "text/csv")
    state = records(url)
    assert state["C1 × P1"][0] == "done" and state["C1 × P1"][1] is not None
    assert state["C2 × P1"][0] is None  # no billing CSV, nothing to upload
    with engine_for(url).connect() as conn:
        attempts = dict(conn.execute(sa.select(billing_uploads.c.rate_plan, billing_uploads.c.attempts)).all())
    assert attempts == {"P1": 2, "P2": 1}
    assert "s3cret" not in repr(table_snapshot(url))  # the token is never stored

    assert main(["amendments", "upload", str(batch), "--upload-to", uploader.url, "--db", url]) == 0
    assert "0 billing CSV(s) uploaded" in capsys.readouterr().out and len(server.requests) == 3  # not again


def test_a_rejected_upload_fails_with_the_servers_words_and_the_retry_uploads_it(made, billing, capsys):
    url, batch, _ = made
    server = billing(reject=422)
    assert main(["amendments", "upload", f"batch-{batch}", "--upload-to", server.url, "--db", url]) == 1
    out = capsys.readouterr().out
    assert "FAILED C1 × P1:" in out and "422 Unprocessable Entity" in out and "rate plan EP1 is closed" in out
    assert len(server.requests) == 2  # a 422 is not retried: it will not pass later
    assert records(url)["C1 × P1"][0] == "failed"
    server.reject, server.refuse_first = None, 0
    assert main(["amendments", "upload", f"batch-{batch}", "--upload-to", server.url, "--db", url]) == 0
    assert len(server.accepted) == 2 and records(url)["C1 × P1"][0] == "done"
    with engine_for(url).connect() as conn:
        log = conn.execute(sa.select(s.change_log.c.uploads_done_at)).scalar()
    assert log is not None  # "All uploads to billing done" once the retry finished them


def test_folder_drop_writes_each_csv_once(made, tmp_path):
    url, batch, out = made
    drop = tmp_path / "sftp-inbox"
    drop.mkdir()
    uploader = uploader_for(f"file://{drop}")
    assert isinstance(uploader, FolderUploader)
    report = upload_period(engine_for(url), f"batch-{batch}", uploader, user="analyst")
    assert sorted(p.name for p in drop.iterdir()) == [f"e1_ep1_batch-{batch}.csv", f"e1_ep2_batch-{batch}.csv"]
    assert (drop / f"e1_ep1_batch-{batch}.csv").read_bytes() == (out / "C1-P1.billing.csv").read_bytes()
    (drop / f"e1_ep1_batch-{batch}.csv").unlink()  # billing picked it up
    again = upload_period(engine_for(url), f"batch-{batch}", uploader, user="analyst")
    assert report.uploaded and again.already == ["C1 × P1", "C1 × P2"]
    assert [p.name for p in drop.iterdir()] == [f"e1_ep2_batch-{batch}.csv"]  # not dropped again


def test_upload_targets_say_what_they_lack(monkeypatch, tmp_path):
    monkeypatch.delenv("REPORTLIB_BILLING_TOKEN", raising=False)
    monkeypatch.delenv("REPORTLIB_BILLING_UPLOAD", raising=False)
    assert HttpUploader("https://billing.example/rates").problems() == [
        "upload to https://billing.example/rates: the environment variable REPORTLIB_BILLING_TOKEN (the billing "
        "system's bearer token) is not set"]
    assert HttpUploader("https://me:pw@billing.example/rates", token="t").problems() == [
        "upload target: a user or password in the URL is refused (it would be printed and recorded); give the token "
        "in REPORTLIB_BILLING_TOKEN"]
    assert FolderUploader(tmp_path / "nope").problems() == [f"upload to folder {tmp_path / 'nope'}: no such folder"]
    with pytest.raises(ConfigError, match="no uploader for 'ftp'; known: file, http, https"):
        uploader_for("ftp://billing.example/in")
    with pytest.raises(ConfigError, match="No upload target"):
        uploader_for(None)


def test_an_amendment_made_again_with_a_new_csv_is_not_uploaded_until_that_csv_is(made, billing):
    """The record's upload step is about the CSV it links to: made again with other content, the CSV is
    not uploaded yet; the upload of it completes the batch's uploads again, at its own time."""
    url, batch, out = made
    server = billing(refuse_first=0)
    uploader = HttpUploader(server.url + "/plans/{ext_billing_rate_plan}/rates")
    upload_period(engine_for(url), f"batch-{batch}", uploader, user="analyst")
    first = records(url)
    with engine_for(url).connect() as conn:
        done = conn.execute(sa.select(s.change_log.c.uploads_done_at)).scalar()
    assert done == max(first["C1 × P1"][1], first["C1 × P2"][1])

    generate(url, "C1", "P2", batch, output_dir=out, stem="C1-P2", user="analyst")  # the same CSV again
    assert records(url)["C1 × P2"] == first["C1 × P2"]
    rp = s.customer_rp_setup.c
    with engine_for(url).begin() as conn:
        conn.execute(s.customer_rp_setup.update().where(rp.customer_id == "C1", rp.rate_plan == "P1")
                     .values(csv_template="billing-full"))
    before = (out / "C1-P1.billing.csv").read_bytes()
    generate(url, "C1", "P1", batch, output_dir=out, stem="C1-P1", user="analyst")
    assert (out / "C1-P1.billing.csv").read_bytes() != before
    assert records(url)["C1 × P1"] == (None, None)  # this CSV was never uploaded

    again = upload_period(engine_for(url), f"batch-{batch}", uploader, user="analyst")
    assert again.uploaded == ["C1 × P1"] and again.already == ["C1 × P2"]
    now = records(url)
    assert now["C1 × P1"][0] == "done" and now["C1 × P1"][1] > first["C1 × P1"][1]
    assert [r.body for r in server.accepted.values()][-1] == (out / "C1-P1.billing.csv").read_bytes()
    with engine_for(url).connect() as conn:
        assert conn.execute(sa.select(s.change_log.c.uploads_done_at)).scalar() == now["C1 × P1"][1]
