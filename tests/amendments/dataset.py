"""A change batch with every amendment indicator, on the rates tests' small deck T.

Plan P1 after the batch (base date 2026-11-21; increases and deletions 7 days later):
Alpha 4910/4911 Increase 0.10 -> 0.12 from 11-28; Gamma 4930 Decrease 0.05 -> 0.04 from
11-21; Gamma 4931 Closed on 11-28; Delta 4941 New from 11-21; Epsilon 4950 New (area add,
0/60/60) from 11-21; Beta 4920, Delta 4940, Zero 0044 and Long 4477009001234567 Unchanged.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ..ratedesk.dataset import BASE, NOW, small_data

INCREASE_AT = datetime(2026, 11, 28)
EXPECTED = {  # code -> (change, rate, previous rate, effective, end)
    "4910": ("Increase", "0.12", "0.10", INCREASE_AT, None),
    "4911": ("Increase", "0.12", "0.10", INCREASE_AT, None),
    "4930": ("Decrease", "0.04", "0.05", BASE, None),
    "4931": ("Closed", "0.05", "0.05", INCREASE_AT, INCREASE_AT),
    "4941": ("New", "0.30", None, BASE, None),
    "4950": ("New", "0.07", None, BASE, None),
    "4920": ("Unchanged", "0.20", "0.20", datetime(2026, 1, 1), None),
    "4940": ("Unchanged", "0.30", "0.30", datetime(2026, 1, 1), None),
    "0044": ("Unchanged", "0.01", "0.01", datetime(2026, 1, 1), None),
    "4477009001234567": ("Unchanged", "0.5", "0.5", datetime(2026, 1, 1), None),
}


def amendment_data() -> dict[str, list[dict]]:
    """The small deck plus customers with every kind of setup (one disabled)."""
    data = small_data()
    data["customers.csv"].append(dict(customer_id="C2", name="Zed & Co <rates>", account_manager_email="am2@example.com"))
    data["customers.csv"].append(dict(customer_id="C3", name="Off Ltd", account_manager_email=None))
    base = dict(email_template="standard", cc_emails=None, bcc_emails=None, comment=None, ext_billing_customer=None,
                ext_billing_rate_plan=None)
    data["customer_rp_setup.csv"] += [
        dict(base, customer_id="C2", rate_plan="P1", status="enabled", amendment_template="changes-only",
             to_emails="a@zed.example; b@zed.example", bcc_emails="audit@zed.example", add_account_manager="bcc",
             csv_template=None),
        dict(base, customer_id="C1", rate_plan="P2", status="enabled", amendment_template="compact",
             to_emails="x@example.com", add_account_manager="none", csv_template="billing-full",
             ext_billing_customer="E1", ext_billing_rate_plan="EP2"),
        dict(base, customer_id="C3", rate_plan="P1", status="disabled", amendment_template="full-az",
             to_emails="off@example.com", add_account_manager="none", csv_template="billing"),
    ]
    return data


def apply_batch(url: str) -> int:
    """Load the data and apply the batch; returns its id."""
    from reportlib.load import write_domain
    from reportlib.ratedesk import ChangeRow, VerifyOptions, apply_deck

    write_domain("rates", amendment_data(), url=url, source="tests amendment deck")
    rows = [
        ChangeRow(1, "Area RATE", code_deck="T", area="Alpha", rate_new="0.12"),
        ChangeRow(2, "Area RATE", code_deck="T", area="Gamma", rate_new="0.04"),
        ChangeRow(3, "Code add", code_deck="T", area="Delta", codes="4941"),
        ChangeRow(4, "Code delete", code_deck="T", area="Gamma", codes="4931"),
        ChangeRow(5, "Area add", code_deck="T", area_new="Epsilon", codes="4950", rate_new="0.07",
                  increment_new="0/60/60"),
    ]
    result = apply_deck(url, rows, VerifyOptions(plans=("P1",), now=NOW, base_date=BASE), user="analyst")
    return result.batch_id


def dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


BULK_CODES = [f"59{n:04d}" for n in range(1000)]


def edge_amendment_data() -> dict[str, list[dict]]:
    """:func:`amendment_data` plus area Zulu of deck T: 1,000 codes at 0.01 in plan P1."""
    from ..ratedesk.dataset import START

    data = amendment_data()
    data["areas.csv"].append(dict(code_deck="T", area="Zulu", active_from=START, active_till=None))
    data["codes.csv"] += [dict(code_deck="T", area="Zulu", code=c, active_from=START, active_till=None)
                          for c in BULK_CODES]
    rate = dict(data["rates.csv"][0], area="Zulu", rate=Decimal("0.01"))
    data["rates.csv"].append(rate)
    return data


EDGE_RATES = {  # area -> new rate of plan P1: 4 to 8 decimals, a large rate, a decrease
    "Alpha": "0.1234", "Gamma": "0.12345678", "Delta": "1234.5", "Zero": "0.0100125", "Long": "0.49999999",
    "Zulu": "0.0123",
}


def apply_edge_batch(url: str) -> int:
    """Load :func:`edge_amendment_data` and apply :data:`EDGE_RATES` to plan P1; returns the batch id.

    Zero's 0.01 -> 0.0100125 is a change of exactly 0.125 %, 0.13 % half up (half to even: 0.12 %);
    Zulu's 1,000 codes make 1,002 increases, counted with a thousands separator.
    """
    from reportlib.load import write_domain
    from reportlib.ratedesk import ChangeRow, VerifyOptions, apply_deck

    write_domain("rates", edge_amendment_data(), url=url, source="tests amendment edges")
    rows = [ChangeRow(n, "Area RATE", code_deck="T", area=area, rate_new=rate)
            for n, (area, rate) in enumerate(EDGE_RATES.items(), start=1)]
    return apply_deck(url, rows, VerifyOptions(plans=("P1",), now=NOW, base_date=BASE), user="analyst").batch_id


def generate(url: str, customer: str, plan: str, batch: int | None, *, output_dir, stem: str, user: str = "analyst",
             at=None):
    """What a run of the notebook and the runner's after-run step do, without a kernel: the
    documents (:func:`write_documents`), then their record (:func:`record_documents`)."""
    from reportlib.amendments.documents import write_documents
    from reportlib.amendments.family import record_documents

    made = write_documents(url, customer, plan, batch, output_dir=output_dir, stem=stem, user=user, at=at)
    record_documents(url, made.record)
    return made
