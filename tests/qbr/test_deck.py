"""The QBR deck: written as PresentationML, it is the package python-pptx builds for the same review."""

from __future__ import annotations

import zipfile

import pytest

import reportlib
from reportlib.demo import build_demo
from reportlib.load import write_domain
from reportlib.qbr import partner_review, quarter_metrics
from reportlib.qbr.deck import SLIDE_TITLES, build_deck
from reportlib.render.pptx import Deck
from reportlib.render.pptx_stream import DeckWriter

from ..render.test_pptx_stream import assert_same_package
from .dataset import qbr_rows


def _active(metrics) -> list[str]:
    rows = metrics.metrics
    return list(rows.loc[rows["status"] == "active", "partner_id"])


@pytest.mark.parametrize("source", ["dataset", "demo"])
def test_every_partners_deck_is_the_package_python_pptx_writes(source, tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    if source == "dataset":  # the hand-made partners: a tricky name, missing inputs, empty quarters
        write_domain("qbr", qbr_rows(), url=url, source="test")
    else:
        build_demo(url, scale="small", domains=["qbr"])
    with reportlib.connect(url) as conn:
        metrics = quarter_metrics(conn, "2026Q3")
    partners = _active(metrics)
    assert partners
    for index, partner in enumerate(partners[:25]):
        review = partner_review(metrics, partner, "2026Q3")
        reference = build_deck(review, Deck).save(tmp_path / f"reference-{index}.pptx")
        fast = build_deck(review).save(tmp_path / f"fast-{index}.pptx")
        with zipfile.ZipFile(reference) as theirs, zipfile.ZipFile(fast) as ours:
            assert_same_package(theirs, ours)


def test_the_default_deck_writer_is_presentationml(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    write_domain("qbr", qbr_rows(), url=url, source="test")
    with reportlib.connect(url) as conn:
        review = partner_review(conn, "A1", "2026Q3")
    deck = build_deck(review)
    assert isinstance(deck, DeckWriter) and len(deck.slides) == len(SLIDE_TITLES)
