"""Renderers: the only modules that touch a file format (XLSX, CSV, HTML, charts, PPTX)."""

__all__: list[str] = []
