"""reportlib: parameterized notebooks that turn business data into finished documents.

Every metric is a plain function over a database connection or DataFrames that returns a
DataFrame; families live in subpackages (``reportlib.statements``, ...).

The names below are imported when first used (PEP 562): ``import reportlib.cli`` or a kernel's
``import reportlib.engines.in_kernel`` then costs nothing of SQLAlchemy, nbformat or pandas, so
``reportlib run`` can start its kernel before it imports what planning the run needs.
"""

from .lazy import lazy_exports as _lazy_exports

from .version import __version__

# name -> the module that defines it
_EXPORTS = {
    "default_db_url": ".config", "outputs_root": ".config", "project_root": ".config", "resolve_db_url": ".config",
    "connect": ".db", "engine_for": ".db", "init_db": ".db",
    "ConfigError": ".errors", "DataError": ".errors", "InvariantError": ".errors", "LoadError": ".errors",
    "ParameterError": ".errors", "ReportlibError": ".errors", "RunError": ".errors",
    "UnknownEntityError": ".errors", "UnknownNameError": ".errors",
    "get_family": ".families",
    "load_folder": ".load",
    "IsoWeek": ".periods", "Month": ".periods", "Quarter": ".periods",
    "export": ".render.export",
    "output_file": ".run", "run_report": ".run",
    "run_batch": ".batch",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)
