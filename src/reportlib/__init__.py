"""reportlib: parameterized notebooks that turn business data into finished documents.

Every metric is a plain function over a database connection or DataFrames that returns a
DataFrame; families live in subpackages (``reportlib.statements``, ...).
"""

from .version import __version__
from .config import default_db_url, outputs_root, project_root, resolve_db_url
from .db import connect, engine_for, init_db
from .errors import (ConfigError, DataError, InvariantError, LoadError, ParameterError,
                     ReportlibError, RunError, UnknownEntityError, UnknownNameError)
from .families import get_family
from .load import load_folder
from .periods import IsoWeek, Month, Quarter
from .run import output_file, run_report
from .batch import run_batch

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
