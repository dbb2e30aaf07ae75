import copy
from decimal import Decimal as D

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from reportlib.render.html import assert_offline, kpi_cards, notebook_to_html, table_html
from reportlib.render.table import Col

from ..conftest import html_elements


def test_table_cells_are_escaped_and_formatted():
    text = table_html([{"name": "<script>alert(1)</script>", "amount": D("1234.5")}],
                      [Col("name"), Col("amount", kind="money")])
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert '<td class="num">1,234.50</td>' in text


def test_kpi_cards_escape_labels_and_values():
    assert "&lt;b&gt;" in kpi_cards([("<b>", "1", None)])


def test_notebook_html_hides_code_and_loads_nothing_from_the_network():
    nb = new_notebook(cells=[new_code_cell("secret_code = 1", outputs=[
        new_output("display_data", data={"text/html": "<p>shown</p>"})])])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    page = notebook_to_html(nb)
    assert "shown" in page and "secret_code" not in page
    assert_offline(page)


def test_assert_offline_rejects_cdn_scripts():
    with pytest.raises(ValueError, match="network"):
        assert_offline('<script src="https://cdn.example/x.js"></script>')


def test_export_is_the_page_nbconvert_makes_without_its_slow_reparse():
    """Same elements, attributes and text as nbconvert's HTMLExporter (tabindex, alt included)."""
    from nbconvert import HTMLExporter

    from reportlib import patches
    from reportlib.patches import NO_ALT
    from reportlib.render.html import TEMPLATES

    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    nb = new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title <b>bold</b> & more", metadata={"tags": ["report"]}),
        new_code_cell("x", outputs=[
            new_output("display_data", data={"text/html": "<table class='rl-table'><tr><td>1 &amp; 2</td></tr></table>",
                                             "text/plain": "t"}),
            new_output("display_data", data={"image/png": png, "text/plain": "img"}),
            new_output("display_data", data={"image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg'><text>a</text>"
                                                              "</svg>", "text/plain": "svg"}),
            new_output("stream", name="stdout", text="printed <tag>\n"),
        ]),
    ])
    reference = HTMLExporter(template_name="reportlib", extra_template_basedirs=[str(TEMPLATES)], exclude_input=True,
                             exclude_input_prompt=True, exclude_output_prompt=True).from_notebook_node(nb)[0]
    page = notebook_to_html(nb)
    assert patches.active("nbconvert-html-export")  # else this compares nbconvert with itself

    assert html_elements(page) == html_elements(reference)
    assert f'alt="{NO_ALT}"' in page and page.count('tabindex="0"') == reference.count('tabindex="0"') >= 3


def test_an_export_leaves_the_notebook_alone_unless_told_it_may_consume_it():
    from reportlib.render.charts import VEGALITE_MIME

    def notebook():
        nb = new_notebook(cells=[new_code_cell("x", outputs=[
            new_output("display_data", data={VEGALITE_MIME: {"mark": "bar", "data": {"values": [{"a": 1}]}}}),
            new_output("stream", name="stdout", text="printed\n")])])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        return nb

    kept = notebook()
    consumed, before = copy.deepcopy(kept), nbformat.writes(kept)
    page = notebook_to_html(kept)
    assert nbformat.writes(kept) == before
    assert notebook_to_html(consumed, consume=True) == page
    assert "text/html" in consumed.cells[0].outputs[0].data  # changed in place, not copied


def test_the_page_shows_markdown_tagged_report_and_no_notes_prints_or_code():
    """What the notebook displays is the report: an untagged markdown cell (how to run it) and
    printed text (timings) are for whoever has the notebook open."""
    note = nbformat.v4.new_markdown_cell("Partner **A** missed its target: see the *pipeline*.")
    note.metadata["tags"] = ["report"]
    nb = new_notebook(cells=[
        nbformat.v4.new_markdown_cell("Run with the defaults against the demo database."),
        note,
        new_code_cell("print('queries 0.12 s'); display(HTML('<b>shown</b>'))", outputs=[
            new_output("stream", name="stdout", text="queries 0.12 s, charts 0.3 s\n"),
            new_output("stream", name="stderr", text="a warning\n"),
            new_output("display_data", data={"text/html": "<b>shown</b>", "text/plain": "x"})]),
    ])
    page = notebook_to_html(nb)
    assert "missed its target" in page and "<strong>A</strong>" in page
    assert "<b>shown</b>" in page
    for hidden in ("Run with the defaults", "queries 0.12 s", "a warning", "print("):
        assert hidden not in page
