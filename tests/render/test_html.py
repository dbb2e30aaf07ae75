from decimal import Decimal as D

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from reportlib.render.html import assert_offline, kpi_cards, notebook_to_html, table_html
from reportlib.render.xlsx import Col


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
