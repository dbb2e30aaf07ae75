"""Every change reportlib makes to another package's internals, in one place.

A batch executes thousands of notebooks, and a few steps of papermill, nbclient, jupyter_client,
nbconvert, ipykernel and IPython cost more per run than the report itself needs. Each patch
below replaces one such step with code that gives the same result, and is:

- listed in :data:`PATCHES` with the library and the versions it was written for (read from
  that library's source at those versions and tested against them);
- applied only when the installed version is in that range and the thing it replaces exists;
  otherwise the library's own behaviour stays, a run is only slower;
- reported: :func:`status` (``reportlib doctor``) says which are active and why the others are
  not; ``tests/test_patches.py`` lists the patches expected active on the pinned versions
  (``constraints.txt``).

``REPORTLIB_NO_PATCHES=1`` in the environment turns them all off (the runner's and the
kernels'), which is what the unpatched reference path of the tests uses. Runner-side patches
are applied by :func:`apply` ``("runner")`` before the first notebook executes; kernel-side
ones by :mod:`reportlib.engines.in_kernel` inside each kernel we start (their code is in
:mod:`reportlib.kernel_patches`).

The patches change how a run is computed, never what it produces: every patched step has a
test holding it to the library's own result (``tests/test_patches.py``, ``tests/test_engines.py``).
"""

from __future__ import annotations

import os
import re
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["PATCHES", "Patch", "PatchStatus", "active", "apply", "html_exporter_class", "import_papermill",
           "notebook_text", "patches_disabled", "status"]

_OFF = "REPORTLIB_NO_PATCHES"
# What nbconvert's HTMLExporter adds to a page: keyboard focus on output areas, alt texts.
_OUTPUT_DIV = re.compile(
    r'<div\b(?![^>]*\btabindex=)([^>]*\bclass="[^"]*\b(?:jp-OutputArea-output|jp-Cell-inputWrapper)\b[^"]*"[^>]*)>')
_IMG_WITHOUT_ALT = re.compile(r"<img\b(?![^>]*\balt=)")
NO_ALT = "No description has been provided for this image"


@dataclass(frozen=True)
class Patch:
    """One change to another package's internals.

    Attributes:
        name: short identifier (``reportlib doctor`` prints it).
        side: ``runner`` (the process that drives kernels) or ``kernel`` (inside each kernel).
        library: the distribution patched, as pip names it.
        versions: the versions it was written for, a PEP 440 specifier (``>=0.10,<0.12``).
        what: what it replaces, and why.
        install: applies it; returns False if what it replaces is not there (library changed).
    """

    name: str
    side: str
    library: str
    versions: str
    what: str
    install: Callable[[], bool]


@dataclass(frozen=True)
class PatchStatus:
    """Whether a patch applies here: ``active`` and, when it does not, ``reason``."""

    patch: Patch
    installed: str | None
    active: bool
    reason: str


def patches_disabled() -> bool:
    """True when ``REPORTLIB_NO_PATCHES`` asks for every library's own behaviour."""
    return os.environ.get(_OFF, "").strip().lower() not in ("", "0", "false", "no")


def _installed(library: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(library)
    except PackageNotFoundError:
        return None


def _in_range(installed: str | None, versions: str) -> bool:
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    if installed is None:
        return False
    try:
        return Version(installed) in SpecifierSet(versions)
    except InvalidVersion:
        return False


def status(side: str | None = None, versions: dict[str, str | None] | None = None) -> list[PatchStatus]:
    """Every patch (of ``side``) and whether it applies to the installed versions (or to
    ``versions``, a ``{library: version}`` to ask about another environment). A patch applied
    in this process and found wanting (what it replaces is missing) is reported as such."""
    rows = []
    for patch in PATCHES:
        if side is not None and patch.side != side:
            continue
        if versions is not None and patch.library in versions:
            installed = versions[patch.library]
        else:
            installed = _installed(patch.library)
        if patches_disabled():
            rows.append(PatchStatus(patch, installed, False, f"{_OFF} is set"))
        elif installed is None:
            rows.append(PatchStatus(patch, installed, False, f"{patch.library} is not installed"))
        elif not _in_range(installed, patch.versions):
            rows.append(PatchStatus(patch, installed, False,
                                    f"written for {patch.library} {patch.versions}; {installed} keeps its own behaviour"))
        elif versions is None and patch.name in _missing:
            rows.append(PatchStatus(patch, installed, False,
                                    f"{patch.library} {installed} no longer has what it replaces"))
        else:
            rows.append(PatchStatus(patch, installed, True, "active"))
    return rows


_applied: dict[str, bool] = {}  # side -> applied once in this process
_active: set[str] = set()
_missing: set[str] = set()
_lock = threading.Lock()


def import_papermill() -> None:
    """Import papermill in a runner without its optional HDFS support.

    papermill imports ``pyarrow.fs`` when it is installed (for ``hdfs://`` paths, which
    reportlib never gives it), and with it pyarrow and numpy: seconds of CPU in every
    ``reportlib run`` and batch worker, which otherwise need neither. While papermill is first
    imported here, ``pyarrow.fs`` is hidden, so papermill takes the path it takes without
    pyarrow (an ``hdfs://`` path would say pyarrow is missing); nothing else changes, and
    pyarrow imports as usual afterwards. A process that already imported pyarrow, or
    ``REPORTLIB_NO_PATCHES``, imports papermill as it is.
    """
    if "papermill.iorw" in sys.modules:
        return
    with _lock:
        hide = "pyarrow" not in sys.modules and not patches_disabled()
        if hide:
            sys.modules["pyarrow.fs"] = None  # type: ignore[assignment]  # the import system's "not found"
        try:
            import papermill.iorw  # noqa: F401
        finally:
            if hide and sys.modules.get("pyarrow.fs", ...) is None:
                del sys.modules["pyarrow.fs"]


def apply(side: str) -> list[str]:
    """Apply, once per process, every patch of ``side`` whose library version is in range;
    the names of those now active."""
    if side == "runner":
        import_papermill()
    with _lock:
        if not _applied.get(side):
            _applied[side] = True
            for row in status(side):
                if not row.active:
                    continue
                try:
                    installed = row.patch.install()
                except (ImportError, AttributeError):
                    installed = False
                (_active if installed else _missing).add(row.patch.name)
        return sorted(name for name in _active if _patch(name).side == side)


def active(name: str) -> bool:
    """Whether patch ``name`` was applied in this process."""
    return name in _active


def _patch(name: str) -> Patch:
    for patch in PATCHES:
        if patch.name == name:
            return patch
    raise KeyError(name)


# --- runner side ------------------------------------------------------------------------------

def _output_from_msg(msg: dict[str, Any]):
    """``nbformat.v4.output_from_msg`` without checking each output against the notebook schema.

    nbclient builds every output a kernel sends with nbformat's ``new_output``, which validates
    it with jsonschema; the executed notebook is validated whole when papermill writes it, so
    the outputs are still checked once.
    """
    from nbformat import NotebookNode

    kind, content = msg["header"]["msg_type"], msg["content"]
    if kind in ("execute_result", "display_data"):
        output = NotebookNode(output_type=kind, metadata=content["metadata"], data=content["data"])
        if kind == "execute_result":
            output.execution_count = content["execution_count"]
        return output
    if kind == "stream":
        return NotebookNode(output_type=kind, name=content["name"], text=content["text"])
    if kind == "error":
        return NotebookNode(output_type=kind, ename=content["ename"], evalue=content["evalue"],
                            traceback=content["traceback"])
    raise ValueError(f"Unrecognized output msg type: {kind!r}")


def _install_output_from_msg() -> bool:
    import nbclient.client

    if not callable(getattr(nbclient.client, "output_from_msg", None)):
        return False
    nbclient.client.output_from_msg = _output_from_msg
    return True


def _iso_datetime(text: str):
    """jupyter_client's date parser for message headers (dateutil's ``isoparse``, two dates a
    message): ``datetime.fromisoformat`` reads the same ISO 8601 dates in a fraction of the
    time; anything it does not read still goes to dateutil."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(text)
    except ValueError:
        from dateutil.parser import isoparse

        return isoparse(text)


def _install_iso_datetime() -> bool:
    import jupyter_client.jsonutil

    if not callable(getattr(jupyter_client.jsonutil, "_dateutil_parse", None)):
        return False
    jupyter_client.jsonutil._dateutil_parse = _iso_datetime
    return True


def notebook_text(nb) -> str:
    """``nbformat.writes(nb)``, the same text, without its deep copy of the whole notebook.

    nbformat copies the notebook only to split its text into lines and drop a few transient
    keys; here only the containers those two steps change are copied, and nbformat's own two
    steps and JSON options do the rest.
    """
    import json

    import nbformat
    from nbformat import NotebookNode
    from nbformat.v4 import nbjson, rwbase

    if nb.get("nbformat") != 4:
        return nbformat.writes(nb)
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:  # as nbformat.writes: logged, and written anyway
        nbformat.get_logger().error("Notebook JSON is invalid: %s", exc)

    def cell_copy(cell):
        cell = NotebookNode(cell, metadata=NotebookNode(cell.get("metadata", {})))
        if "attachments" in cell:
            cell["attachments"] = NotebookNode({k: NotebookNode(v) for k, v in cell["attachments"].items()})
        if "outputs" in cell:
            cell["outputs"] = [NotebookNode(o, **({"data": NotebookNode(o["data"])} if "data" in o else {}))
                               for o in cell["outputs"]]
        return cell

    shallow = NotebookNode(nb, metadata=NotebookNode(nb.get("metadata", {})),
                           cells=[cell_copy(cell) for cell in nb.get("cells", [])])
    shallow = rwbase.strip_transient(rwbase.split_lines(shallow))
    return json.dumps(shallow, cls=nbjson.BytesEncoder, indent=1, sort_keys=True, separators=(",", ": "),
                      ensure_ascii=False)


def _install_write_ipynb() -> bool:
    import papermill.execute
    from nbformat.v4 import nbjson, rwbase
    from papermill.iorw import papermill_io

    if not (callable(getattr(papermill.execute, "write_ipynb", None)) and hasattr(rwbase, "split_lines")
            and hasattr(rwbase, "strip_transient") and hasattr(nbjson, "BytesEncoder")):
        return False

    def write_ipynb(nb, path):
        """papermill's own, with the same text made without a deep copy, and written atomically
        to a local file: a write that fails (disk full) leaves the earlier file or none, never a
        truncated notebook for the runner to keep as the failed run's record."""
        if "://" in str(path) or str(path) == "-":
            papermill_io.write(notebook_text(nb), path)
            return
        from .files import atomic_write

        # No fsync: a published notebook's SHA-256 is in the run's manifest, which is synced.
        with atomic_write(path, fsync=False) as handle:
            handle.write(notebook_text(nb))

    papermill.execute.write_ipynb = write_ipynb
    return True


_html_exporter: type | None = None


def html_exporter_class() -> type:
    """The HTML exporter class a report uses: nbconvert's ``HTMLExporter``, or, while the
    ``nbconvert-html-export`` patch is active, the same exporter without its BeautifulSoup
    pass and its deep copies of the notebook (:func:`_report_html_exporter`)."""
    from nbconvert import HTMLExporter

    apply("runner")
    return _html_exporter if active("nbconvert-html-export") and _html_exporter else HTMLExporter


def accessible_page(page: str) -> str:
    """What nbconvert's HTMLExporter adds to a finished page: output areas reachable with the
    keyboard (``tabindex``) and an ``alt`` text on every image that has none."""
    page = _OUTPUT_DIV.sub(r'<div\1 tabindex="0">', page)
    return _IMG_WITHOUT_ALT.sub(f'<img alt="{NO_ALT}"', page)


def _report_html_exporter() -> type:
    """nbconvert's HTMLExporter with two of its steps replaced, for the same page.

    ``from_notebook_node`` re-parses the whole finished page in pure Python (BeautifulSoup) only
    to add ``tabindex`` and missing ``alt`` attributes (the slowest step of an export with a few
    SVG charts); :func:`accessible_page` adds the same attributes with two regular expressions.
    ``Exporter._preprocess`` deep-copies the notebook twice (its own copy and nbformat's
    normalize) although ``from_notebook_node`` hands it a copy already, made from a notebook
    papermill wrote valid.
    """
    import copy

    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class ReportHTMLExporter(HTMLExporter):
        def from_notebook_node(self, nb, resources=None, **kw):
            # HTMLExporter.from_notebook_node (nbconvert 7.16-7.17) up to its BeautifulSoup pass.
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            self.register_filter("highlight_code",
                                 self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
            resources = self._init_resources(resources)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            return accessible_page(page), resources

        def _preprocess(self, nb, resources):
            # Exporter._preprocess without its two deep copies of the notebook.
            resources = copy.deepcopy(resources)
            for preprocessor in self._preprocessors:
                nb, resources = preprocessor(nb, resources)
            if self._preprocessors:
                self._validate_preprocessor(nb, self._preprocessors[-1])
            return nb, resources

    return ReportHTMLExporter


def _install_html_exporter() -> bool:
    global _html_exporter
    from nbconvert import HTMLExporter
    from nbconvert.exporters.exporter import Exporter
    from nbconvert.exporters.templateexporter import TemplateExporter

    needed = [(HTMLExporter, "_init_resources"), (Exporter, "_preprocess"), (Exporter, "_validate_preprocessor"),
              (TemplateExporter, "from_notebook_node")]
    # _nb_metadata is set on each exporter when it is made.
    if not all(hasattr(owner, name) for owner, name in needed) or not hasattr(HTMLExporter(), "_nb_metadata"):
        return False
    _html_exporter = _report_html_exporter()
    return True


# --- kernel side (code in reportlib.kernel_patches, applied in each kernel) -------------------

def _kernel(name: str) -> Callable[[], bool]:
    def install() -> bool:
        from . import kernel_patches

        return getattr(kernel_patches, name)()
    return install


PATCHES: tuple[Patch, ...] = (
    Patch("nbclient-output-from-msg", "runner", "nbclient", ">=0.10,<0.12",
          "nbclient.client.output_from_msg: builds each output the kernel sends without validating it "
          "against the notebook schema (the written notebook is validated whole)", _install_output_from_msg),
    Patch("jupyter-client-iso-dates", "runner", "jupyter_client", ">=8.0,<8.11",
          "jupyter_client.jsonutil._dateutil_parse: message dates read with datetime.fromisoformat, "
          "dateutil for anything else", _install_iso_datetime),
    Patch("papermill-write-ipynb", "runner", "papermill", ">=2.6,<2.8",
          "papermill.execute.write_ipynb: the executed notebook written as nbformat.writes writes it, "
          "without its deep copy of the notebook", _install_write_ipynb),
    Patch("nbconvert-html-export", "runner", "nbconvert", ">=7.16,<7.18",
          "HTMLExporter.from_notebook_node and Exporter._preprocess: tabindex and alt attributes added "
          "without re-parsing the page, no deep copies of the notebook", _install_html_exporter),
    Patch("ipykernel-quiet-flush", "kernel", "ipykernel", ">=7.0,<7.5",
          "OutStream.flush/_flush: stdout and stderr flush only when they hold text (ipykernel flushes both "
          "before every display and around every execution, a trip to its IOPub thread each)",
          _kernel("install_quiet_flush")),
    Patch("ipykernel-shutdown-control-thread", "kernel", "ipykernel", ">=7.0,<7.5",
          "an atexit handler letting the control thread finish after a shutdown request (ipykernel can "
          "deadlock there, and the kernel then waits for SIGTERM)", _kernel("install_control_thread_join")),
    Patch("ipython-transform-cache", "kernel", "ipython", ">=8.0,<9.19",
          "InteractiveShell.transform_cell cached by source text (a warm kernel runs the same cells again "
          "and again; IPython tokenizes each twice per execution)", _kernel("install_transform_cache")),
)
