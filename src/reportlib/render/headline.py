"""A report's headline: who it is about, its period and its key figures, recorded in its manifest.

A family's notebook displays its :class:`Headline` once (``display(report.headline(pack))``):
the display is a JSON output of its own MIME type, which JupyterLab and the HTML page leave
out (they have no renderer for it) and the runner copies into the run's manifest
(``"headline"``). The catalogue, the e-mail templates and the PDF page headers read it from
there, so none of them queries the database or opens a document again: a QBR health score
of 10,000 partners is one manifest read each, not the quarter's metrics computed again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .figures import Figure, exact

__all__ = ["HEADLINE_MIME", "Headline", "drop_headlines", "headline_of"]

HEADLINE_MIME = "application/vnd.reportlib.headline+json"


@dataclass(frozen=True)
class Headline:
    """Who a report is about and its key figures, each shown by :mod:`reportlib.render.figures`.

    Attributes:
        entity: the entity's id (``P001``), empty for a report of a whole period.
        name: what to call it in a sentence (``Acme Networks``, ``Tech dashboard``).
        period: the period as people read it (``October 2026``, ``2026Q3``).
        figures: ``label -> Figure`` in the order they are shown; the first is *the* headline.
        notes: ``label -> text`` beside a figure (a health band), shown after its figure.
    """

    entity: str
    name: str
    period: str
    figures: Mapping[str, Figure] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The manifest's ``headline``: each figure's exact value (text) and its shown text."""
        shown = []
        for label, figure in self.figures.items():
            value = exact(figure.value)
            shown.append({"label": label, "kind": figure.kind.name, "value": None if value is None else str(value),
                          "text": figure.kind.text(figure.value), "note": self.notes.get(label)})
        return {"entity": self.entity, "name": self.name, "period": self.period, "figures": shown}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        # JupyterLab shows the text; the exported page leaves the whole output out.
        return {HEADLINE_MIME: self.to_json(), "text/plain": str(self)}

    def __str__(self) -> str:
        figures = "; ".join(f"{f['label']} {f['text']}" + (f" ({f['note']})" if f["note"] else "")
                            for f in self.to_json()["figures"])
        who = f"{self.name} ({self.entity})" if self.entity else self.name
        return f"Headline of {who}, {self.period}: {figures}"


def drop_headlines(notebook: Any) -> None:
    """Remove the headline outputs from a notebook (a page shows the figures in its own words)."""
    for cell in notebook.get("cells", ()):
        outputs = cell.get("outputs")
        if outputs:
            outputs[:] = [o for o in outputs if HEADLINE_MIME not in (o.get("data") or {})]


def headline_of(notebook: Mapping[str, Any]) -> dict[str, Any] | None:
    """The headline an executed notebook displayed (the last one), or None."""
    found = None
    for cell in notebook.get("cells", ()):
        for output in cell.get("outputs", ()):
            data = output.get("data") or {}
            if HEADLINE_MIME in data:
                found = data[HEADLINE_MIME]
    return dict(found) if found is not None else None
