"""reportlib: parameterized notebooks that turn business data into finished documents.

Every metric is a plain function over a database connection or DataFrames that returns a
DataFrame; families live in subpackages (``reportlib.statements``, ...).
"""

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError, version as _version

try:
    __version__ = _version("reportlib")
except _PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"

from .config import default_db_url, outputs_root, project_root, resolve_db_url  # noqa: E402
from .db import connect, engine_for, init_db  # noqa: E402
from .errors import (ConfigError, DataError, InvariantError, LoadError, ParameterError,  # noqa: E402
                     ReportlibError, RunError, UnknownEntityError, UnknownNameError)
from .families import get_family  # noqa: E402
from .load import load_folder  # noqa: E402
from .periods import IsoWeek, Month, Quarter  # noqa: E402
from .render.export import export  # noqa: E402
from .run import output_file, run_report  # noqa: E402
from .batch import run_batch  # noqa: E402

__all__ = [
    "ConfigError",
    "DataError",
    "InvariantError",
    "IsoWeek",
    "LoadError",
    "Month",
    "ParameterError",
    "Quarter",
    "ReportlibError",
    "RunError",
    "UnknownEntityError",
    "UnknownNameError",
    "__version__",
    "connect",
    "default_db_url",
    "engine_for",
    "export",
    "get_family",
    "init_db",
    "load_folder",
    "output_file",
    "outputs_root",
    "project_root",
    "resolve_db_url",
    "run_batch",
    "run_report",
]
